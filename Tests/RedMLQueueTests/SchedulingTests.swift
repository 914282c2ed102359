import Foundation
import RedML
@testable import RedMLQueue
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Which job runs when: priorities, FIFO, delays, unique keys, named queues.
@Suite("Scheduling")
struct SchedulingTests {
    @Test(arguments: Backends.allFixtures())
    func higherPriorityRunsFirstAndFIFOWithinAPriority(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let plan: [(String, Int)] = [("a", 0), ("b", 5), ("c", 0), ("d", 10), ("e", 5), ("f", -3), ("g", 0), ("h", 10)]
        var byTarget: [UInt128: String] = [:]
        for (target, priority) in plan {
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: target, priority: priority))
            byTarget[id] = target
        }
        let calls = Invocations()
        let workers = h.start(workerConfiguration(count: 1)) { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                return [:]
            }
        }
        try await eventually("all jobs to complete") { calls.total == plan.count }
        try await eventually("the last completion to be written") {
            try await h.queue.jobs(MLJobQuery(status: .completed)).jobs.count == plan.count
        }
        try await workers.stop()
        #expect(calls.sequence.map { byTarget[$0]! } == ["d", "h", "b", "e", "a", "c", "g", "f"])
    }

    @Test(arguments: Backends.allFixtures())
    func delayedJobsDoNotRunBeforeTheirTime(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let workers = h.start { workers in
            workers.register(.driftCompute) { job in
                calls.record(job.id)
                return [:]
            }
        }
        let delayed = try await h.queue.submit(
            MLJobSubmission(kind: .driftCompute, target: "later", runAt: date(ms: startMs + 60_000)))
        let record = try await h.queue.requireJob(delayed)
        #expect(record.runAtMs == startMs + 60_000)
        #expect(try await h.entries(MLNamespace.jobScheduled).count == 1)
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)

        // A job due now runs while the delayed one waits.
        let now = try await h.queue.submit(MLJobSubmission(kind: .driftCompute, target: "now"))
        try await waitForStatus(h.queue, now, .completed)
        #expect(try await h.queue.promoteScheduledJobs() == 0)
        h.clock.advance(by: .milliseconds(59_999))
        #expect(try await h.queue.promoteScheduledJobs() == 0)
        try await Task.sleep(for: .milliseconds(30))
        #expect(calls.count(delayed) == 0)
        #expect(try await h.queue.requireJob(delayed).status == .queued)

        h.clock.advance(by: .milliseconds(1))
        let promoted = try await h.queue.promoteScheduledJobs()
        let done = try await waitForStatus(h.queue, delayed, .completed, nudging: h.clock)
        try await workers.stop()
        #expect(promoted <= 1)  // the maintenance loop may have promoted it first
        #expect(calls.count(delayed) == 1)
        #expect(done.startedAtMs! >= startMs + 60_000)
        #expect(try await h.entries(MLNamespace.jobScheduled).isEmpty)
    }

    @Test("a run-at time between two milliseconds rounds up, never making a job due early")
    func aRunAtWithAFractionOfAMillisecondRoundsUp() async throws {
        let h = try await Harness(Backends.inMemory)
        let due = startMs + 60_000
        for (offset, expected) in [(0.0, due), (0.0004, due + 1), (0.9996, due + 1), (-0.0004, due)] {
            let runAt = Date(timeIntervalSince1970: TimeInterval(due) / 1_000 + offset / 1_000)
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", runAt: runAt))
            #expect(try await h.queue.requireJob(id).runAtMs == expected, "run-at \(offset) ms after \(due)")
        }
        // Whole milliseconds across the range a run-at may take keep their value.
        for ms: Int64 in [0, 1, 999, 1_764_000_000_001, 253_402_300_799_000] {
            #expect(MLJobQueue.runAtMs(date(ms: ms)) == ms)
        }
    }

    /// A transition removes the index entries its job had, and deletes a
    /// scheduled entry only when the job could have one (its run time was
    /// still to come at its last write): no path may leave one behind.
    @Test(arguments: Backends.allFixtures())
    func everyPathLeavesTheLiveIndexesEmpty(_ fixture: MLStoreFixture) async throws {
        struct Flaky: Error {}
        let h = try await Harness(fixture)
        // Cancelled while waiting for its time, and while ready.
        let waiting = try await h.queue.submit(MLJobSubmission(kind: .train, target: "w", runAt: date(ms: startMs + 60_000)))
        let ready = try await h.queue.submit(MLJobSubmission(kind: .train, target: "r"))
        #expect(try await h.entries(MLNamespace.jobScheduled).count == 1)
        #expect(try await h.queue.cancel(waiting) == .cancelled)
        #expect(try await h.queue.cancel(ready) == .cancelled)
        #expect(try await h.entries(MLNamespace.jobScheduled).isEmpty)
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)

        // Delayed then promoted; failed once, backed off, promoted and retried.
        let workers = h.start { workers in
            workers.register(.train) { job in
                if job.job.target == "flaky", job.attempt == 1 { throw Flaky() }
                return [:]
            }
        }
        let delayed = try await h.queue.submit(MLJobSubmission(kind: .train, target: "d", runAt: date(ms: startMs + 5_000)))
        let flaky = try await h.queue.submit(MLJobSubmission(kind: .train, target: "flaky", maxAttempts: 2))
        let backedOff = try await waitForJob(h.queue, flaky, "the first failure") { $0.failures == 1 }
        #expect(backedOff.runAtMs > backedOff.updatedAtMs, "the retry waits for its backoff")
        h.clock.advance(by: .seconds(5))
        _ = try await h.queue.promoteScheduledJobs()
        try await waitForStatus(h.queue, delayed, .completed, nudging: h.clock)
        try await waitForStatus(h.queue, flaky, .completed, nudging: h.clock)
        try await workers.stop()
        for namespace in [MLNamespace.jobReady, MLNamespace.jobScheduled, MLNamespace.jobLeases] {
            #expect(try await h.entries(namespace).isEmpty, "\(namespace)")
        }
        #expect(try await h.entries(MLNamespace.jobFinished).count == 4)
    }

    @Test(arguments: Backends.allFixtures())
    func aPastRunAtRunsAtOnce(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let id = try await h.queue.submit(
            MLJobSubmission(kind: .train, target: "m", runAt: date(ms: startMs - 3_600_000)))
        #expect(try await h.entries(MLNamespace.jobReady).count == 1)
        let workers = h.start { workers in workers.register(.train) { _ in [:] } }
        try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
    }

    @Test(arguments: Backends.allFixtures())
    func uniqueKeyReturnsTheLiveJobAndIsReleasedWhenItFinishes(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let first = try await h.queue.submitJob(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
        let duplicate = try await h.queue.submitJob(
            MLJobSubmission(kind: .train, target: "other", priority: 9, uniqueKey: "train-m"))
        #expect(duplicate == first)
        #expect(try await h.queue.jobs().jobs.map(\.id) == [first.id])
        // Another key is another job.
        let other = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-n"))
        #expect(other != first.id)

        // While it runs, the key still returns it.
        let release = Gate()
        let workers = h.start { workers in
            workers.register(.train) { job in
                if job.job.uniqueKey == "train-m" && job.attempt == 1 && job.id == first.id { await release.wait() }
                return [:]
            }
        }
        try await waitForStatus(h.queue, first.id, .running)
        #expect(try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m")) == first.id)
        release.open()
        try await waitForStatus(h.queue, first.id, .completed)

        // Finished: the key is free again.
        let second = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
        #expect(second != first.id)
        try await waitForStatus(h.queue, second, .completed)
        try await workers.stop()

        // A cancelled job releases its key too.
        let third = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
        #expect(try await h.queue.cancel(third) == .cancelled)
        let fourth = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
        #expect(fourth != third)
        #expect(try await h.queue.requireJob(fourth).status == .queued)
    }

    @Test(arguments: Backends.allFixtures())
    func concurrentSubmissionsWithOneUniqueKeyMakeOneJob(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let queue = h.queue
        let ids = try await withThrowingTaskGroup(of: UInt128.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await queue.submit(MLJobSubmission(kind: .train, target: "t\(index)", uniqueKey: "only-one"))
                }
            }
            var ids: Set<UInt128> = []
            for try await id in group { ids.insert(id) }
            return ids
        }
        #expect(ids.count == 1)
        #expect(try await h.queue.jobs().jobs.count == 1)
        #expect(try await h.entries(MLNamespace.jobReady).count == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func namedQueuesHaveTheirOwnConcurrencyLimits(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let gpu = ConcurrencyMeter()
        let firstGPU = Gate()
        let releaseFirst = Gate()
        let workers = h.start(workerConfiguration(count: 3, queues: ["gpu": 1])) { workers in
            workers.register(.train) { job in
                gpu.enter()
                defer { gpu.leave() }
                if job.job.target == "gpu-0" {
                    firstGPU.open()
                    await releaseFirst.wait()
                }
                for _ in 0..<5 { await Task.yield() }
                return [:]
            }
            workers.register(.backfill) { _ in [:] }
        }
        var gpuJobs: [UInt128] = []
        gpuJobs.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "gpu-0", queue: "gpu")))
        await firstGPU.wait()
        for index in 1..<6 {
            gpuJobs.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "gpu-\(index)", queue: "gpu")))
        }
        // Default-queue jobs run while the gpu slot is taken; the other gpu jobs wait.
        var cpuJobs: [UInt128] = []
        for index in 0..<6 {
            cpuJobs.append(try await h.queue.submit(MLJobSubmission(kind: .backfill, target: "cpu-\(index)")))
        }
        for id in cpuJobs { try await waitForStatus(h.queue, id, .completed) }
        for id in gpuJobs.dropFirst() { #expect(try await h.queue.requireJob(id).status == .queued) }
        // A queue these workers do not serve is left alone.
        let unserved = try await h.queue.submit(MLJobSubmission(kind: .backfill, target: "tpu", queue: "tpu"))

        releaseFirst.open()
        for id in gpuJobs { try await waitForStatus(h.queue, id, .completed) }
        try await workers.stop()
        #expect(gpu.maximum == 1)
        #expect(try await h.queue.requireJob(unserved).status == .queued)
        #expect(try await h.queue.jobs(MLJobQuery(queue: "gpu")).jobs.count == 6)
    }
}
