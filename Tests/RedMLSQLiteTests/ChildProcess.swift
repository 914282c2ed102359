import Foundation
import Synchronization
import Testing

/// Thrown when a child process does not do what a test waited for.
struct ChildProcessFailure: Error, CustomStringConvertible {
    let description: String
}

/// A child process whose stdout is read line by line as it arrives.
///
/// A reading thread drains stdout (and another stderr) into a `Mutex`-protected
/// buffer, so a child never blocks on a full pipe and a test can wait for a line
/// without blocking a cooperative thread: waits poll the buffer with `Task.sleep`.
final class ChildProcess: Sendable {
    /// How a child ended.
    enum Termination: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }
    }

    private struct Output: Sendable {
        var lines: [String] = []
        var partial: [UInt8] = []
        var stderr: [UInt8] = []
        var stdoutClosed = false
        var stderrClosed = false
        var termination: Termination?
        /// Checked by the reading thread on each new stdout line; see ``ChildProcess/killWhenLine(_:)``.
        var killTrigger: (@Sendable (String) -> Bool)?
        var killTriggered = false
    }

    /// What the process is, for failure messages.
    let label: String
    /// The child's process id.
    let pid: Int32
    private let output = OutputBox()
    /// Kept so the process object (and its termination handler) lives as long as this wrapper.
    private let process: Process

    /// The shared state, in a class so the reading threads and the termination handler can hold it.
    private final class OutputBox: Sendable {
        private let state = Mutex(Output())

        func withLock<T>(_ body: (inout Output) -> T) -> T {
            state.withLock { body(&$0) }
        }
    }

    /// Starts `executable` with `arguments`.
    init(executable: URL, arguments: [String], label: String? = nil) throws {
        self.label = label ?? ([executable.lastPathComponent] + arguments).joined(separator: " ")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        self.process = process
        let output = self.output
        process.terminationHandler = { finished in
            let termination: Termination =
                finished.terminationReason == .uncaughtSignal
                ? .signaled(finished.terminationStatus) : .exited(finished.terminationStatus)
            output.withLock { $0.termination = termination }
        }
        try process.run()
        pid = process.processIdentifier
        // The parent's copies of the write ends must go, or reading never sees end of file.
        try? stdout.fileHandleForWriting.close()
        try? stderr.fileHandleForWriting.close()
        Self.drain(stdout.fileHandleForReading, into: output, isStdout: true, pid: pid)
        Self.drain(stderr.fileHandleForReading, into: output, isStdout: false, pid: pid)
    }

    private static func drain(_ handle: FileHandle, into output: OutputBox, isStdout: Bool, pid: Int32) {
        let thread = Thread {
            let descriptor = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                output.withLock { state in
                    if isStdout {
                        state.partial.append(contentsOf: buffer[0..<count])
                        while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = String(decoding: state.partial[..<newline], as: UTF8.self)
                            state.lines.append(line)
                            state.partial.removeSubrange(...newline)
                            if !state.killTriggered, let trigger = state.killTrigger, trigger(line) {
                                state.killTriggered = true
                                _ = sendSignal(pid, SIGKILL)
                            }
                        }
                    } else {
                        state.stderr.append(contentsOf: buffer[0..<count])
                    }
                }
            }
            try? handle.close()
            output.withLock { state in
                if isStdout { state.stdoutClosed = true } else { state.stderrClosed = true }
            }
        }
        thread.start()
    }

    /// Every complete line the child has written to stdout so far.
    var lines: [String] { output.withLock { $0.lines } }

    /// What the child has written to stderr so far.
    var stderrText: String { output.withLock { String(decoding: $0.stderr, as: UTF8.self) } }

    /// How the child ended, or `nil` while it runs.
    var termination: Termination? { output.withLock { $0.termination } }

    /// A description of the child's state for failure messages.
    var diagnostics: String {
        let (lines, stderr, termination) = output.withLock {
            ($0.lines, String(decoding: $0.stderr, as: UTF8.self), $0.termination)
        }
        return "[\(label): \(termination?.description ?? "running"), \(lines.count) stdout lines, "
            + "last: \(lines.last ?? "none"); stderr: \(stderr.isEmpty ? "empty" : stderr)]"
    }

    /// Waits until `condition` holds for the stdout lines read so far.
    ///
    /// - Throws: if the timeout passes, or the child ends (and its stdout is
    ///   drained) without the condition holding.
    func waitForLines(
        _ what: String, timeout: Duration = .seconds(30), until condition: ([String]) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (lines, finished) = output.withLock { ($0.lines, $0.termination != nil && $0.stdoutClosed) }
            if condition(lines) { return }
            if finished {
                throw ChildProcessFailure(description: "child ended before \(what): \(diagnostics)")
            }
            if ContinuousClock.now >= deadline {
                throw ChildProcessFailure(description: "timed out after \(timeout) waiting for \(what): \(diagnostics)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Sends SIGKILL from the reading thread as soon as a stdout line satisfies
    /// `trigger` (or at once if one already has).
    ///
    /// The kill does not wait for the test's task to be scheduled, so it lands
    /// while the child is still writing even when the cooperative pool is busy.
    func killWhenLine(_ trigger: @escaping @Sendable (String) -> Bool) {
        output.withLock { state in
            state.killTrigger = trigger
            if !state.killTriggered, state.termination == nil, state.lines.contains(where: trigger) {
                state.killTriggered = true
                _ = sendSignal(pid, SIGKILL)
            }
        }
    }

    /// Sends SIGKILL. Safe to call more than once, and after the child ended.
    func kill() {
        guard termination == nil else { return }
        _ = sendSignal(pid, SIGKILL)
    }

    /// Waits for the child to end and for its output to be read to the end.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        var drainDeadline: ContinuousClock.Instant?
        while true {
            let (termination, drained) = output.withLock { ($0.termination, $0.stdoutClosed && $0.stderrClosed) }
            if let termination {
                // Another child started at the same moment may have inherited our pipe's
                // write end; once the child itself is gone, wait only briefly for end of file.
                let limit = drainDeadline ?? ContinuousClock.now + .seconds(2)
                drainDeadline = limit
                if drained || ContinuousClock.now >= limit { return termination }
            } else if ContinuousClock.now >= deadline {
                throw ChildProcessFailure(description: "timed out after \(timeout) waiting for exit: \(diagnostics)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// `kill(2)`, named apart from ``ChildProcess/kill()``.
private func sendSignal(_ pid: Int32, _ signal: Int32) -> Int32 {
    kill(pid, signal)
}
