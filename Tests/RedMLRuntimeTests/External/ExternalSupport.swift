import Foundation
import RedML
import RedMLRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ExternalTimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Waits, in real time, until `condition` holds: checks every 10 ms, fails the test after `timeout`.
func eventually(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            throw ExternalTimedOut(description: what)
        }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
}

/// A fresh in-memory store, a queue over it, and a temp folder for scripts.
struct ExternalHarness {
    let folder: URL
    let store: InMemoryMLPersistence
    let queue: MLJobQueue

    init() throws {
        folder = FileManager.default.temporaryDirectory.resolvingSymlinksInPath()
            .appendingPathComponent("redml-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = InMemoryMLPersistence()
        queue = Self.makeQueue(store)
    }

    /// Another queue object over the same store, as a restarted process would have.
    func reopenedQueue() -> MLJobQueue { Self.makeQueue(store) }

    private static func makeQueue(_ store: any MLStore) -> MLJobQueue {
        var configuration = MLJobQueue.Configuration()
        configuration.watchInterval = .milliseconds(10)
        return MLJobQueue(store: store, configuration: configuration)
    }

    /// A path in the temp folder.
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Writes an executable `/bin/sh` script; returns the command that runs it.
    func script(_ name: String, _ body: String) throws -> String {
        let path = path(name)
        try ("#!/bin/sh\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// Handler settings for tests: `DIR` names the temp folder in the program's environment.
    func handlerConfiguration() -> MLExternalHandler.Configuration {
        var configuration = MLExternalHandler.Configuration()
        configuration.environment = ["DIR": folder.path]
        return configuration
    }

    /// Starts workers over `queue` (default: this harness's) that serve `.train` with `handler`.
    func start(
        _ handler: MLExternalHandler, queue: MLJobQueue? = nil, gracePeriod: Duration = .seconds(10),
        heartbeat: Duration = .seconds(5)
    ) -> RunningExternalWorkers {
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 1
        configuration.pollInterval = .milliseconds(50)
        // Long enough that a slow shared machine never loses a lease by accident.
        configuration.heartbeatInterval = heartbeat
        configuration.progressFlushInterval = .milliseconds(50)
        configuration.gracePeriod = gracePeriod
        configuration.backoff = MLRetryBackoff(base: .milliseconds(10), maximum: .milliseconds(10), jitter: 0)
        let workers = MLJobWorkers(queue: queue ?? self.queue, configuration: configuration)
        workers.register(.train, handler.handler())
        return RunningExternalWorkers(workers: workers, task: Task { try await workers.run() })
    }

    /// Waits until the job satisfies `predicate`; returns the record that did.
    ///
    /// A plain loop: with Swift 6.3.1 on Linux, the same wait written as an
    /// async closure that assigns a captured variable (while workers ran)
    /// crashed the test process with a null resume function in `swift_job_run`.
    @discardableResult
    func waitForJob(
        _ id: UInt128, _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
        until predicate: (MLJob) -> Bool
    ) async throws -> MLJob {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var last: MLJob?
        while ContinuousClock.now < deadline {
            last = try await queue.job(id)
            if let job = last, predicate(job) { return job }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let seen = last.map { "\($0.status) attempt \($0.attempt) error \($0.error ?? "-")" } ?? "nothing"
        Issue.record("timed out waiting for \(what); last seen: \(seen)", sourceLocation: sourceLocation)
        throw ExternalTimedOut(description: what)
    }

    /// Waits until the job has finished; returns its record.
    func waitUntilFinished(_ id: UInt128, sourceLocation: SourceLocation = #_sourceLocation) async throws -> MLJob {
        try await waitForJob(id, "the job to finish", sourceLocation: sourceLocation) { $0.status.isTerminal }
    }

    /// The process id a script wrote into `name`, once the file holds one.
    func pid(in name: String) throws -> pid_t? {
        guard let text = try? String(contentsOfFile: path(name), encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func removeFolder() {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// A worker pool whose `run()` runs in a task of its own.
struct RunningExternalWorkers {
    let workers: MLJobWorkers
    let task: Task<Void, any Error>

    /// Graceful shutdown, waiting for `run()` to return.
    func stop() async throws {
        workers.beginShutdown()
        try await task.value
    }
}

/// Whether a process is gone: no such process, or a zombie nobody reaped
/// yet (the container's init may never reap orphans).
func isGone(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return errno == ESRCH }
    #if os(Linux)
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return true }
    // The state follows the command name in parentheses: "1234 (sleep) Z ...".
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first == "Z"
    #else
    return false
    #endif
}
