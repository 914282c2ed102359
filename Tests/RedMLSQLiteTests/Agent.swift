import Foundation
import RedMLTesting
import Testing

/// Finds and starts the RedMLTestAgent executable that SwiftPM builds next to the tests.
enum Agent {
    /// The agent executable.
    ///
    /// Looked up, in order: the `REDML_TEST_AGENT` environment variable; then
    /// the directory of the test runner (`CommandLine.arguments[0]`, which under
    /// `swift test` on Linux is `.build/<triple>/debug/RedMLPackageTests.xctest`,
    /// a plain executable) and its parents (on macOS the runner sits three
    /// levels down inside the `.xctest` bundle); then `Bundle.main`'s bundle and
    /// executable directories and their parents.
    static let executable: Result<URL, ChildProcessFailure> = locate()

    static func url() throws -> URL {
        try executable.get()
    }

    private static func locate() -> Result<URL, ChildProcessFailure> {
        BuiltExecutable.locate(
            "RedMLTestAgent", override: "REDML_TEST_AGENT",
            buildHint: "`swift build --product RedMLTestAgent`, which `swift test` does"
        ).mapError { ChildProcessFailure(description: $0.description) }
    }

    /// Starts the agent: `RedMLTestAgent MODE PATH ARGS...`.
    static func start(_ mode: String, _ path: String, _ arguments: String...) throws -> ChildProcess {
        try ChildProcess(
            executable: url(), arguments: [mode, path] + arguments,
            label: (["agent", mode, URL(fileURLWithPath: path).lastPathComponent] + arguments).joined(separator: " "))
    }
}

extension ChildProcess {
    /// The indices of the agent's "ack I" lines read so far.
    var acks: [Int] {
        lines.compactMap { line in
            line.hasPrefix("ack ") ? Int(line.dropFirst(4)) : nil
        }
    }

    /// Waits until at least `count` "ack" lines have been read.
    func waitForAcks(_ count: Int, timeout: Duration = .seconds(30)) async throws {
        try await waitForLines("\(count) acks", timeout: timeout) { lines in
            lines.lazy.filter { $0.hasPrefix("ack ") }.count >= count
        }
    }

    /// Waits for the child to exit on its own, and requires status 0.
    func expectCleanExit(timeout: Duration = .seconds(30)) async throws {
        let termination = try await waitForExit(timeout: timeout)
        #expect(termination == .exited(0), "\(diagnostics)")
    }

    /// Kills the agent as soon as it has printed "ack \(count - 1)" (acks are sequential),
    /// waits for it to end, and requires that the signal is what ended it.
    func killAfterAcks(_ count: Int) async throws {
        let last = "ack \(count - 1)"
        killWhenLine { $0 == last }
        try await waitForAcks(count, timeout: .seconds(60))
        try await killAndExpectSignal()
    }

    /// Kills the child with SIGKILL, and requires that the signal is what ended it
    /// (not an earlier exit, which would mean it was not killed mid-write).
    func killAndExpectSignal() async throws {
        kill()
        let termination = try await waitForExit()
        #expect(termination == .signaled(SIGKILL), "\(diagnostics)")
    }
}

/// The sqlite3 command-line shell, to look at a store from outside RedML.
enum SQLiteShell {
    static let executable = URL(fileURLWithPath: "/usr/bin/sqlite3")

    /// Runs `sql` on the database at `path` and returns stdout; throws on a nonzero exit.
    @discardableResult
    static func run(_ path: String, _ sql: String) async throws -> String {
        let shell = try ChildProcess(
            executable: executable,
            arguments: ["-init", "/dev/null", "-batch", "-bail", "-cmd", ".timeout 10000", path, sql],
            label: "sqlite3 \(sql)")
        let termination = try await shell.waitForExit()
        guard termination == .exited(0) else {
            throw ChildProcessFailure(description: "sqlite3 failed: \(shell.diagnostics)")
        }
        return shell.lines.joined(separator: "\n")
    }

    /// The rows of a query, one string per row, columns separated by `|`.
    static func rows(_ path: String, _ sql: String) async throws -> [String] {
        let output = try await run(path, sql)
        return output.isEmpty ? [] : output.components(separatedBy: "\n")
    }
}
