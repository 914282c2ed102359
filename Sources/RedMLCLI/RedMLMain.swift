import ArgumentParser
import Foundation
import Logging
import RedML

/// The process entry point: parses the command line, runs the command, and
/// turns an expected failure into one line on stderr and a non-zero exit code.
///
/// Usage errors and `--help` go through ArgumentParser's own reporting, which
/// prints the usage text and exits with its usual codes.
@main
enum RedMLMain {
    /// Runs `redml` with the process's arguments.
    static func main() async {
        // The executable, not the libraries, decides where logs go: stderr, so stdout stays parseable.
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        // Swift's default executor, not NIO's event loops: with NIO's loops as the global
        // executor every await is an event-loop enqueue, and swift-async-algorithms' merge
        // (inside ServiceGroup) holds its lock across one. A group cancelled at that moment (a
        // port already taken, say) then waits on that lock from the loop thread the held task
        // needs, and `serve` hung for ever: 3 times in 1,100 runs on a loaded machine, none in
        // 1,000 on the default executor (BENCHMARKS.md, 2026-12-01).
        warnOfUnknownLogLevel()
        do {
            var command = try await RedMLCommand.asyncParseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIError {
            report(failure)
        } catch let error as MLPersistenceError {
            report(CLIError(error))
        } catch let error as MLJobError {
            report(CLIError(error))
        } catch let error as MLRegistryError {
            report(CLIError(error.message, code: error.code.rawValue))
        } catch {
            // A usage error (exit 64) gets its JSON error object too; --help and the like (exit 0) do not.
            if RedMLCommand.exitCode(for: error) == .validationFailure, jsonRequested {
                try? Console.json(["error": ["code": "usage", "message": RedMLCommand.message(for: error)]])
            }
            RedMLCommand.exit(withError: error)
        }
    }

    /// A `REDML_LOG_LEVEL` that names no level is ignored (each logger keeps
    /// its default), but not silently: the operator meant to change something.
    private static func warnOfUnknownLogLevel() {
        guard let value = ProcessInfo.processInfo.environment[CLIRuntime.logLevelVariable], !value.isEmpty,
            CLIRuntime.logLevel(named: value) == nil
        else { return }
        let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
        Console.note("\(CLIRuntime.logLevelVariable)='\(value)' is not a log level, so it is ignored; use one of \(levels)")
    }

    /// Whether the command line asks for `--json` output (read here, where no command is parsed).
    private static var jsonRequested: Bool { CommandLine.arguments.dropFirst().contains("--json") }

    /// One line on stderr and, under `--json`, `{"error": {"code", "message"}}`
    /// on stdout (as the HTTP API answers), so a script reads failures where it
    /// reads results; then exits.
    private static func report(_ failure: CLIError) -> Never {
        Console.error(failure.message)
        if !failure.resultPrinted, jsonRequested {
            try? Console.json(["error": ["code": failure.code, "message": failure.message]])
        }
        exit(failure.exitCode)
    }
}
