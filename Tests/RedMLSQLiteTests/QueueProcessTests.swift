import Foundation
import RedML
import Synchronization
import Testing

/// The job queue on one SQLite file, with worker processes that are killed mid-batch.
@Suite("Job queue across processes")
struct QueueProcessTests {
    static let jobCount = 2_000
    // Long enough that a busy 2-core machine (the rest of the suite running) renews every lease in
    // time, so the assertions about exactly one claim hold; takeover still takes about a second.
    static let heartbeatMs = 1_000

    @Test("SIGKILL a worker process mid-batch of 2000 jobs: a second process takes over the expired leases, resumes from checkpoints, and every job completes exactly once")
    func killedWorkerIsTakenOver() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("queue.sqlite")
        try SQLiteMLPersistence(path: path).close()

        let submitter = try Agent.start("queue-submit", path, "\(Self.jobCount)")
        defer { submitter.kill() }
        try await submitter.expectCleanExit(timeout: .seconds(60))
        #expect(submitter.lines == ["submitted \(Self.jobCount)"], "\(submitter.diagnostics)")

        // The first worker process: killed from the reading thread on the first "checkpoint KEY 2"
        // after 300 "done" lines, so at least that job is running with a checkpoint past step 0.
        let first = try Agent.start("queue-work", path, "2", "\(Self.heartbeatMs)")
        defer { first.kill() }
        let trigger = KillTrigger(afterDone: 300)
        first.killWhenLine { trigger.shouldKill($0) }
        let firstEnd = try await first.waitForExit(timeout: .seconds(60))
        #expect(firstEnd == .signaled(SIGKILL), "\(first.diagnostics)")
        let firstLines = AgentLines(first.lines)
        #expect(firstLines.done.count >= 300, "killed after \(firstLines.done.count) done lines")
        #expect(!firstLines.lines.contains("idle"), "the first agent must die mid-batch")

        // The store as the kill left it: nobody has touched the leases since.
        let atKill: [MLJob]
        do {
            let store = try SQLiteMLPersistence(path: path)
            atKill = try await Self.allJobs(MLJobQueue(store: store))
            try store.close()
        }
        #expect(atKill.count == Self.jobCount)
        let runningAtKill = atKill.filter { $0.status == .running }
        let completedAtKill = Set(atKill.filter { $0.status == .completed }.map(\.key))
        let startedNotDone = Set(firstLines.starts.map(\.key)).subtracting(firstLines.done)
        try #require(!runningAtKill.isEmpty, "no job was running at the kill; started but not done: \(startedNotDone.count)")
        #expect(runningAtKill.count <= 2, "2 workers run at most 2 jobs")
        for job in runningAtKill {
            #expect(job.leaseExpiresAtMs != nil, "running job \(job.key) holds a lease")
            #expect(job.attempt == 1)
            // By its worker id, not by the agent's output: a claim commits before the handler
            // prints its start line, so the kill can fall between the two.
            #expect(job.worker == "agent-\(first.pid)", "the first agent claimed \(job.key): \(job.worker ?? "-")")
        }
        // Everything the store calls completed was reported done by the agent (nothing
        // completed behind its back), and queued jobs never started.
        #expect(completedAtKill.isSubset(of: firstLines.done))
        #expect(atKill.allSatisfy { [.queued, .running, .completed].contains($0.status) })

        // The second worker process takes over and drains the queue.
        let secondStartMs = Int64(Date().timeIntervalSince1970 * 1000)
        let second = try Agent.start("queue-work", path, "2", "\(Self.heartbeatMs)")
        defer { second.kill() }
        try await second.expectCleanExit(timeout: .seconds(60))
        #expect(second.lines.last == "idle", "\(second.diagnostics)")
        let secondLines = AgentLines(second.lines)

        let store = try SQLiteMLPersistence(path: path)
        let queue = MLJobQueue(store: store)
        let final = try await Self.allJobs(queue)
        let keys = Set(final.map(\.key))
        #expect(final.count == Self.jobCount && keys.count == Self.jobCount, "no job lost or duplicated")
        #expect(keys == Set(atKill.map(\.key)))
        let notCompleted = final.filter { $0.status != .completed }
        #expect(notCompleted.isEmpty, "not completed: \(notCompleted.prefix(5).map { "\($0.key) \($0.status)" })")
        for job in final {
            #expect(job.checkpoint?["step"] == 5 && job.metrics?["steps"] == 5 && job.progress == 100,
                    "\(job.key): checkpoint \(String(describing: job.checkpoint)), metrics \(String(describing: job.metrics))")
            #expect(job.worker == nil && job.leaseExpiresAtMs == nil && job.finishedAtMs != nil)
        }

        // The second agent ran exactly the jobs the first one had not completed, each once.
        let secondDone = secondLines.done
        #expect(secondLines.doneLines == secondDone.count, "the second agent completed no job twice")
        #expect(secondDone == keys.subtracting(completedAtKill), "second agent ran exactly the unfinished jobs")
        #expect(completedAtKill.isDisjoint(with: secondLines.starts.map(\.key)), "no completed job ran again")
        #expect(firstLines.done.union(secondDone) == keys)

        // Every job's history: contiguous, exactly one terminal event, and it is the last.
        var byKey: [String: [MLJobEvent]] = [:]
        for job in final {
            let events = try await queue.history(of: job.id)
            byKey[job.key] = events
            #expect(events.map(\.sequence) == Array(1...events.count) && events.count == job.eventCount, "\(job.key)")
            let terminal = events.filter { $0.to.isTerminal }
            #expect(terminal.count == 1 && terminal.last == events.last && terminal.first?.reason == "completed",
                    "\(job.key): \(events.map(\.reason))")
            #expect(events.filter { $0.reason == "claimed" }.count == job.attempt, "\(job.key): \(events.map(\.reason))")
        }

        // Jobs running at the kill: their lease expired, the second agent claimed them again
        // within a few heartbeats, and resumed from the checkpoint the first agent saved.
        var resumedFrom: [Int] = []
        for job in runningAtKill {
            let events = byKey[job.key] ?? []
            let reasons = events.map(\.reason)
            #expect(reasons.filter { $0 == "lease_expired" }.count == 1, "\(job.key): \(reasons)")
            #expect(reasons.filter { $0 == "claimed" }.count == 2, "\(job.key): \(reasons)")
            if let expired = events.first(where: { $0.reason == "lease_expired" }), let lease = job.leaseExpiresAtMs {
                #expect(expired.atMs >= lease, "requeued only after the lease ran out")
                // The rescuer looks every half heartbeat; allow the agent's start-up on top
                // (measured here: 30–110 ms).
                let takeover = expired.atMs - max(lease, secondStartMs)
                #expect(takeover < 5 * Int64(Self.heartbeatMs), "\(job.key) requeued \(takeover) ms after its lease and the second agent's start")
            }
            let starts = secondLines.starts.filter { $0.key == job.key }
            #expect(starts.count == 1 && starts.first?.attempt == 2, "\(job.key): \(starts)")
            let saved = Int(job.checkpoint?["step"]?.intValue ?? 0)
            #expect(starts.first?.from == saved, "\(job.key) resumed from the checkpoint saved before the kill")
            resumedFrom += starts.map(\.from)
        }
        #expect(resumedFrom.contains { $0 > 0 }, "at least one job resumed past step 0: \(resumedFrom)")
        // Jobs the first agent never got to were claimed once, by the second agent.
        let firstStarted = Set(firstLines.starts.map(\.key)).union(runningAtKill.map(\.key))
        for job in final where !firstStarted.contains(job.key) {
            #expect(job.attempt == 1, "\(job.key)")
        }

        // No index entry is left behind: nothing ready, scheduled or leased; every job finished once.
        for namespace in [MLNamespace.jobReady, MLNamespace.jobScheduled, MLNamespace.jobLeases] {
            let page = try await store.page(namespace: namespace, MLPageRequest(limit: 10))
            #expect(page.entries.isEmpty, "\(namespace) still holds \(page.entries.map(\.key))")
        }
        #expect(try await store.list(namespace: MLNamespace.jobFinished).count == Self.jobCount)
        try await StoreHelpers.expectHealthy(store)
        try store.close()
    }

    /// Every job in the store, oldest first.
    static func allJobs(_ queue: MLJobQueue) async throws -> [MLJob] {
        var jobs: [MLJob] = []
        var query = MLJobQuery(limit: 1_000, oldestFirst: true)
        while true {
            let page = try await queue.jobs(query)
            #expect(page.skipped.isEmpty)
            jobs += page.jobs
            guard let cursor = page.nextCursor else { return jobs }
            query.after = cursor
        }
    }
}

/// Decides, line by line on the reading thread, when to kill a queue-work agent.
private final class KillTrigger: Sendable {
    private let doneCount = Mutex(0)
    let afterDone: Int

    init(afterDone: Int) { self.afterDone = afterDone }

    /// Counts "done" lines; once enough were seen, fires on the next "checkpoint KEY 2".
    func shouldKill(_ line: String) -> Bool {
        doneCount.withLock { count in
            if line.hasPrefix("done ") {
                count += 1
                return false
            }
            return count >= afterDone && line.hasPrefix("checkpoint ") && line.hasSuffix(" 2")
        }
    }
}

/// A queue-work agent's output, parsed.
private struct AgentLines {
    struct Start: CustomStringConvertible {
        var key: String
        var attempt: Int
        var from: Int
        var description: String { "\(key) attempt \(attempt) from \(from)" }
    }

    let lines: [String]
    /// "start KEY attempt A from STEP"
    let starts: [Start]
    /// The keys of "done KEY" lines.
    let done: Set<String>
    /// How many "done" lines there were.
    let doneLines: Int

    init(_ lines: [String]) {
        self.lines = lines
        starts = lines.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 6, parts[0] == "start", parts[2] == "attempt", parts[4] == "from",
                let attempt = Int(parts[3]), let from = Int(parts[5])
            else { return nil }
            return Start(key: String(parts[1]), attempt: attempt, from: from)
        }
        let doneKeys = lines.compactMap { $0.hasPrefix("done ") ? String($0.dropFirst(5)) : nil }
        done = Set(doneKeys)
        doneLines = doneKeys.count
    }
}
