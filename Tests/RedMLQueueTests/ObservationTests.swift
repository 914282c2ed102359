import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// What clients see of a job: history, live updates, progress.
@Suite("Observing jobs")
struct ObservationTests {
    @Test(arguments: Backends.allFixtures())
    func historyListsEveryTransitionWithAttempts(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let workers = h.start(workerConfiguration(id: "w-hist")) { workers in
            workers.register(.train) { job in
                if job.attempt == 1 { throw MLJobFailure("flaky") }
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await waitForJob(h.queue, id, "the first failure") { $0.failures == 1 }
        h.clock.advance(by: .seconds(1))
        _ = try await h.queue.promoteScheduledJobs()
        let done = try await waitForStatus(h.queue, id, .completed, nudging: h.clock)
        try await workers.stop()

        let history = try await h.queue.history(of: id)
        #expect(history.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(history.map(\.reason) == ["submitted", "claimed", "failed", "claimed", "completed"])
        #expect(history.map(\.from) == [nil, .queued, .running, .queued, .running])
        #expect(history.map(\.to) == [.queued, .running, .queued, .running, .completed])
        #expect(history.map(\.attempt) == [0, 1, 1, 2, 2])
        #expect(history.map(\.worker) == [nil, "w-hist", "w-hist", "w-hist", "w-hist"])
        #expect(history[2].detail == "flaky")
        #expect(history.first?.atMs == startMs)
        #expect(history.map(\.atMs) == history.map(\.atMs).sorted())
        #expect(done.eventCount == history.count)

        await expectJobError(.unknownJob, "history of an unknown job") { try await h.queue.history(of: id &+ 1) }
        await expectJobError(.unknownJob, "requireJob of an unknown job") { try await h.queue.requireJob(id &+ 1) }
    }

    @Test(arguments: Backends.allFixtures())
    func updatesYieldProgressAndEndAtTheTerminalState(_ fixture: MLStoreFixture) async throws {
        // Real time here: the watch and the progress flush both run on the queue's clock.
        let store = try await fixture.makeStore()
        let queue = makeQueue(store, clock: MLSystemClock())
        var configuration = workerConfiguration()
        configuration.progressFlushInterval = .milliseconds(5)
        configuration.pollInterval = .milliseconds(20)
        let seen = Locked<[MLJob]>([])
        let workers = RunningWorkers.start(queue: queue, configuration: configuration, clock: nil) { workers in
            workers.register(.train) { job in
                for step in [25.0, 50.0, 75.0] {
                    job.setProgress(step)
                    try await eventually("progress \(step) to be seen") {
                        seen.value.contains { $0.progress == step }
                    }
                }
                return ["done": true]
            }
        }
        let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m"))
        let collector = Task {
            for try await job in queue.updates(of: id) { seen.withLock { $0.append(job) } }
        }
        try await collector.value  // the stream ends by itself at the terminal state
        try await workers.stop()

        let updates = seen.value
        #expect(updates.first?.id == id)
        #expect(updates.last?.status == .completed)
        #expect(updates.last?.metrics == ["done": true])
        #expect(updates.dropLast().allSatisfy { !$0.status.isTerminal })
        let progress = updates.map(\.progress)
        #expect(progress == progress.sorted())
        for step in [25.0, 50.0, 75.0, 100.0] { #expect(progress.contains(step)) }

        // A finished job's stream yields it once and ends; an unknown id fails.
        var again: [MLJob] = []
        for try await job in queue.updates(of: id) { again.append(job) }
        #expect(again.map(\.status) == [.completed])
        await expectJobError(.unknownJob, "updates of an unknown job") {
            for try await _ in queue.updates(of: id &+ 1) {}
        }
    }

    @Test(arguments: Backends.allFixtures())
    func progressIsCoalesced(_ fixture: MLStoreFixture) async throws {
        let counting = CountingStore(try await fixture.makeStore())
        let h = Harness(store: counting)
        let clock = h.clock
        let queue = h.queue
        let writesBeforeRun = Locked(0)
        let workers = h.start { workers in
            workers.register(.train) { job in
                writesBeforeRun.withLock { $0 = counting.writes(of: job.id) }
                for call in 1...10_000 {
                    job.setProgress(Double(call) / 100)
                    if call % 1_000 == 0 {
                        // One flush interval later the latest progress reaches the store.
                        let expected = Double(call) / 100
                        try await advance(clock, by: .milliseconds(200), until: "progress \(expected) to be flushed") {
                            try await queue.requireJob(job.id).progress == expected
                        }
                    }
                }
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await waitForStatus(h.queue, id, .completed)
        // Counted once the workers stopped: a write is counted after its commit returns, which
        // may be a moment after the handler (or the test) already sees it in the store.
        try await workers.stop()
        // Every write after the claim, less the completion: ten flushes were asked for, and
        // lease renewals add a few. Nowhere near 10,000.
        let writesDuringRun = counting.writes(of: id) - writesBeforeRun.value - 1
        #expect(writesDuringRun >= 10)
        #expect(writesDuringRun <= 40)
        #expect(counting.writes(of: id) <= 45)
        #expect(try await h.queue.history(of: id).count == 3)
    }

    @Test(arguments: Backends.allFixtures())
    func progressIsClampedToZeroThroughHundred(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let clock = h.clock
        let queue = h.queue
        let stored = Locked<[Double]>([])
        let workers = h.start { workers in
            workers.register(.train) { job in
                func record() async throws {
                    let progress = try await queue.requireJob(job.id).progress
                    stored.withLock { $0.append(progress) }
                }
                try await job.checkpoint([:], progress: 250)
                try await record()
                try await job.checkpoint([:], progress: -3)
                try await record()
                job.setProgress(42.5)
                try await job.checkpoint([:])
                try await record()
                job.setProgress(.nan)
                try await job.checkpoint([:], progress: nil)
                try await record()
                job.setProgress(1e9)
                try await advance(clock, by: .milliseconds(200), until: "the flushed progress to be clamped") {
                    try await queue.requireJob(job.id).progress == 100
                }
                try await record()
                job.setProgress(-.infinity)
                try await advance(clock, by: .milliseconds(200), until: "the flushed progress to be 0") {
                    try await queue.requireJob(job.id).progress == 0
                }
                try await record()
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
        #expect(stored.value == [100, 0, 42.5, 0, 100, 0])
    }
}
