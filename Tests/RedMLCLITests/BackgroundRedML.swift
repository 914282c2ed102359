import Foundation

/// A `redml` process that runs in the background (a worker, a server) until
/// the test signals it.
final class BackgroundRedML {
    private let process = Process()
    private let outputs: URL

    /// Starts `redml arguments` in `directory`; output goes to files.
    init(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        outputs = FileManager.default.temporaryDirectory
            .appendingPathComponent("redml-background-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        for name in ["stdout", "stderr"] {
            _ = FileManager.default.createFile(atPath: outputs.appendingPathComponent(name).path, contents: nil)
        }
        var childEnvironment = ProcessInfo.processInfo.environment
        childEnvironment["REDML_STORE"] = nil
        childEnvironment.merge(environment) { _, new in new }
        process.executableURL = try RedMLExecutable.url.get()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = childEnvironment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outputs.appendingPathComponent("stdout"))
        process.standardError = try FileHandle(forWritingTo: outputs.appendingPathComponent("stderr"))
        try process.run()
    }

    /// The process id, which worker names in leases and history contain.
    var processIdentifier: Int32 { process.processIdentifier }

    /// Whether the process is still running.
    var isRunning: Bool { process.isRunning }

    /// What it wrote to stdout so far.
    var stdout: String { read("stdout") }
    /// What it wrote to stderr so far.
    var stderr: String { read("stderr") }

    /// Sends `signal` to the process.
    func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits (polling, so the cooperative pool is not blocked) until it exits; returns its status.
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                let stacks = threadStacks()
                signal(SIGKILL)
                throw RedMLExecutableFailure(
                    description: "redml \(process.arguments ?? []) did not exit: \(stderr)\nits threads:\n\(stacks)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Every thread's stack, from gdb if the machine has it: what a process
    /// that does not exit is waiting for, which its log cannot tell.
    private func threadStacks() -> String {
        guard let gdb = ["/usr/bin/gdb", "/usr/local/bin/gdb"].first(where: FileManager.default.isExecutableFile)
        else { return "(no gdb to show them)" }
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        dump.arguments = ["60", gdb, "-p", "\(process.processIdentifier)", "-batch", "-ex", "thread apply all bt 15"]
        let output = Pipe()
        dump.standardOutput = output
        dump.standardError = output
        dump.standardInput = FileHandle.nullDevice
        do { try dump.run() } catch { return "(gdb did not start: \(error))" }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        // Keep the stack lines: gdb's chatter about symbols drowns them otherwise.
        return text.split(separator: "\n").filter { $0.hasPrefix("#") || $0.hasPrefix("Thread") }.joined(separator: "\n")
    }

    private func read(_ name: String) -> String {
        String(decoding: (try? Data(contentsOf: outputs.appendingPathComponent(name))) ?? Data(), as: UTF8.self)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outputs)
    }
}
