import Foundation
import RedMLTesting
import Testing

/// Thrown when the `redml` binary cannot be found or run.
struct RedMLExecutableFailure: Error, CustomStringConvertible {
    let description: String
}

/// What one run of `redml` did.
struct RedMLResult: CustomStringConvertible {
    /// The exit status (a signal number's negative when it was killed).
    let status: Int32
    /// Everything written to stdout.
    let stdout: String
    /// Everything written to stderr.
    let stderr: String

    /// The stderr lines, without empty ones.
    var stderrLines: [Substring] { stderr.split(separator: "\n") }

    /// For failure messages.
    var description: String { "status \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }

    /// Parses stdout as one JSON object.
    func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(parsed as? [String: Any], "stdout is not a JSON object: \(stdout)", sourceLocation: sourceLocation)
    }
}

/// Finds the `redml` binary SwiftPM built next to the tests, and runs it as a child process.
enum RedMLExecutable {
    /// The binary: `$REDML_CLI`, else `redml` in the test runner's directory or a parent of it.
    static let url: Result<URL, RedMLExecutableFailure> = locate()

    /// Runs `redml arguments` in `directory` and waits for it to exit.
    ///
    /// `REDML_STORE` is removed from the inherited environment unless
    /// `environment` sets it. Output goes to files, so a chatty child never
    /// blocks on a full pipe; a child still running after `timeout` is killed.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:],
        timeout: Duration = .seconds(120)
    ) async throws -> RedMLResult {
        let executable = try url.get()
        let outputs = FileManager.default.temporaryDirectory
            .appendingPathComponent("redml-cli-output-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outputs) }
        let stdoutURL = outputs.appendingPathComponent("stdout")
        let stderrURL = outputs.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdout = try FileHandle(forWritingTo: stdoutURL)
        let stderr = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdout.close()
            try? stderr.close()
        }

        var childEnvironment = ProcessInfo.processInfo.environment
        childEnvironment["REDML_STORE"] = nil
        childEnvironment.merge(environment) { _, new in new }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = childEnvironment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr

        // Killed after `timeout`; cancelled as soon as the child exits, so it
        // never signals a later process that reuses the pid.
        var watchdog: Task<Void, any Error>?
        defer { watchdog?.cancel() }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                let status = finished.terminationStatus
                continuation.resume(returning: finished.terminationReason == .uncaughtSignal ? -status : status)
            }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            let pid = process.processIdentifier
            watchdog = Task {
                try await Task.sleep(for: timeout)
                kill(pid, SIGKILL)
            }
        }
        return RedMLResult(
            status: status,
            stdout: String(decoding: try Data(contentsOf: stdoutURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self))
    }

    private static func locate() -> Result<URL, RedMLExecutableFailure> {
        BuiltExecutable.locate("redml", override: "REDML_CLI", buildHint: "`swift build --build-tests`")
            .mapError { RedMLExecutableFailure(description: $0.description) }
    }
}
