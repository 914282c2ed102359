import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Semantics an Oban / River / Sidekiq user expects of a job queue, probed
/// where the other suites do not already: timeouts that the handler answers
/// by returning, cancelling a job waiting out its backoff, priorities of jobs
/// that became ready later, unique keys across failures and retries, backoff
/// bounds, and a named queue's concurrency limit above one.
@Suite("Queue semantics probes")
struct SemanticsProbeTests {
    /// A timeout counts as a failed attempt (README, "Retries"), whatever the
    /// handler does once it is cancelled: returning normally from a timed-out
    /// attempt is partial work, not a completion (as after a shutdown).
    @Test(arguments: Backends.allFixtures())
    func aTimedOutHandlerThatReturnsNormallyStillFailsTheAttempt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { job in
                if job.attempt == 1 {
                    started.open()
                    await waitUntilCancelled()  // the timeout cancels it…
                    return ["partial": true]    // …and it returns what it has, without throwing
                }
                return ["attempt": .int(Int64(job.attempt))]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 2, timeout: .seconds(1)))
        await started.wait()
        try await advance(h.clock, by: .seconds(1), until: "the first attempt to end") {
            try await h.queue.requireJob(id).status != .running
        }
        let after = try await h.queue.requireJob(id)
        #expect(after.status == .queued, "a timed-out attempt is a failure, retried while attempts remain")
        #expect(after.failures == 1)
        #expect(after.error == "timed out after 1000 ms")
        #expect(after.metrics == nil)
        #expect(try await h.queue.history(of: id).last?.reason == "timed_out")

        try await advance(h.clock, by: .seconds(1), until: "the second attempt to complete") {
            _ = try await h.queue.promoteScheduledJobs()
            return try await h.queue.requireJob(id).status.isTerminal
        }
        try await workers.stop()
        let done = try await h.queue.requireJob(id)
        #expect(done.status == .completed)
        #expect(done.attempt == 2)
        #expect(done.metrics == ["attempt": 2])
    }

    /// The same on the last attempt: the job fails, it does not complete.
    @Test(arguments: Backends.allFixtures())
    func aTimedOutLastAttemptThatReturnsNormallyFailsTheJob(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()
                return ["partial": true]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 1, timeout: .seconds(1)))
        await started.wait()
        try await advance(h.clock, by: .seconds(1), until: "the job to end") {
            try await h.queue.requireJob(id).status.isTerminal
        }
        try await workers.stop()
        let ended = try await h.queue.requireJob(id)
        #expect(ended.status == .failed)
        #expect(ended.failures == 1)
        #expect(ended.error == "timed out after 1000 ms")
    }

    /// A job waiting out its retry backoff is queued: cancelling it ends it at
    /// once, and it never runs again, however far the clock moves.
    @Test(arguments: Backends.allFixtures())
    func aJobWaitingInBackoffIsCancelledAndNeverRunsAgain(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let workers = h.start { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                throw MLJobFailure("flaky")
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 5))
        let backedOff = try await waitForJob(h.queue, id, "the first failure") { $0.failures == 1 }
        #expect(backedOff.status == .queued)
        #expect(backedOff.runAtMs > h.clock.nowMs)

        #expect(try await h.queue.cancel(id) == .cancelled)
        #expect(try await h.queue.cancel(id) == .notCancellable, "a second cancel finds it terminal")
        let cancelled = try await h.queue.requireJob(id)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.finishedAtMs == h.clock.nowMs)
        #expect(cancelled.error == "flaky", "the last attempt's error is kept")

        h.clock.advance(by: .seconds(120))
        #expect(try await h.queue.promoteScheduledJobs() == 0)
        // A job submitted now runs, so the workers are live and passed the cancelled one by.
        let other = try await h.queue.submit(MLJobSubmission(kind: .train, target: "other", maxAttempts: 1))
        try await waitForStatus(h.queue, other, .failed, nudging: h.clock)
        try await workers.stop()
        #expect(calls.count(id) == 1)
        #expect(try await h.queue.requireJob(id).status == .cancelled)
        #expect(try await h.queue.history(of: id).map(\.reason) == ["submitted", "claimed", "failed", "cancelled"])
        for namespace in [MLNamespace.jobReady, MLNamespace.jobScheduled, MLNamespace.jobLeases] {
            #expect(try await h.entries(namespace).isEmpty, "\(namespace)")
        }
    }

    /// A delayed job cancelled before its time never runs once its time comes.
    @Test(arguments: Backends.allFixtures())
    func aDelayedJobCancelledBeforeItsTimeNeverRuns(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let workers = h.start { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                return [:]
            }
        }
        let delayed = try await h.queue.submit(MLJobSubmission(kind: .train, target: "d", runAt: date(ms: startMs + 10_000)))
        #expect(try await h.queue.cancel(delayed) == .cancelled)
        h.clock.advance(by: .seconds(11))
        #expect(try await h.queue.promoteScheduledJobs() == 0)
        let other = try await h.queue.submit(MLJobSubmission(kind: .train, target: "now"))
        try await waitForStatus(h.queue, other, .completed, nudging: h.clock)
        try await workers.stop()
        #expect(calls.count(delayed) == 0)
        #expect(try await h.queue.requireJob(delayed).status == .cancelled)
    }

    /// A job that becomes ready later (from a delay) still runs by priority:
    /// ahead of lower-priority jobs that were ready before it.
    @Test(arguments: Backends.allFixtures())
    func aPromotedHigherPriorityJobRunsBeforeEarlierLowerOnes(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let blockerStarted = Gate()
        let releaseBlocker = Gate()
        let workers = h.start(workerConfiguration(count: 1)) { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                if job.job.target == "blocker" {
                    blockerStarted.open()
                    await releaseBlocker.wait()
                }
                return [:]
            }
        }
        let blocker = try await h.queue.submit(MLJobSubmission(kind: .train, target: "blocker"))
        await blockerStarted.wait()
        let low1 = try await h.queue.submit(MLJobSubmission(kind: .train, target: "low1", priority: 0))
        let high = try await h.queue.submit(
            MLJobSubmission(kind: .train, target: "high", priority: 5, runAt: date(ms: startMs + 5_000)))
        let low2 = try await h.queue.submit(MLJobSubmission(kind: .train, target: "low2", priority: 0))
        try await advance(h.clock, by: .seconds(5), until: "the delayed job to be ready") {
            _ = try await h.queue.promoteScheduledJobs()
            return try await h.entries(MLNamespace.jobScheduled).isEmpty
        }
        releaseBlocker.open()
        try await eventually("every job to run") { calls.total == 4 }
        for id in [blocker, low1, high, low2] { try await waitForStatus(h.queue, id, .completed) }
        try await workers.stop()
        #expect(calls.sequence == [blocker, high, low1, low2])
        #expect(try await h.queue.requireJob(high).startedAtMs! >= startMs + 5_000)
    }

    /// A unique key holds through a retry backoff (the job is still live), and
    /// is free again once the job failed for good.
    @Test(arguments: Backends.allFixtures())
    func aUniqueKeyHoldsThroughRetriesAndIsFreedByAFailure(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let workers = h.start { workers in
            workers.register(.train) { _ in throw MLJobFailure("nope") }
        }
        let submission = MLJobSubmission(kind: .train, target: "m", maxAttempts: 2, uniqueKey: "k")
        let first = try await h.queue.submitJobOrFindDuplicate(submission)
        #expect(!first.isDuplicate)
        try await waitForJob(h.queue, first.job.id, "the first failure") { $0.failures == 1 && $0.status == .queued }
        let during = try await h.queue.submitJobOrFindDuplicate(submission)
        #expect(during.isDuplicate)
        #expect(during.job.id == first.job.id)

        try await advance(h.clock, by: .seconds(1), until: "the job to fail for good") {
            _ = try await h.queue.promoteScheduledJobs()
            return try await h.queue.requireJob(first.job.id).status == .failed
        }
        try await workers.stop()
        let after = try await h.queue.submitJobOrFindDuplicate(submission)
        #expect(!after.isDuplicate)
        #expect(after.job.id != first.job.id)
        #expect(after.job.status == .queued)
        #expect(try await h.queue.requireJob(after.job.id).status == .queued)
        #expect(try await h.queue.requireJob(first.job.id).status == .failed)
    }

    /// Unique keys are refused in a batch (documented), duplicates or not,
    /// and nothing of the batch is stored.
    @Test(arguments: Backends.allFixtures())
    func aBatchWithUniqueKeysIsRefusedWhole(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        await expectJobError(.invalidArgument, "a batch with a duplicated unique key") {
            try await h.queue.submitJobs([
                MLJobSubmission(kind: .train, target: "a"),
                MLJobSubmission(kind: .train, target: "b", uniqueKey: "k"),
                MLJobSubmission(kind: .train, target: "c", uniqueKey: "k"),
            ])
        }
        #expect(try await h.queue.jobs().jobs.isEmpty)
    }

    /// Backoff: exponential from `base`, within `jitter` either way, never past `maximum`.
    @Test func backoffStaysWithinItsDocumentedBounds() {
        let backoff = MLRetryBackoff(base: .seconds(1), maximum: .seconds(60), jitter: 0.2)
        for failures in 1...20 {
            let exponential = min(60_000, 1_000 * pow(2, Double(failures - 1)))
            for _ in 0..<200 {
                let delay = backoff.delayMs(afterFailures: failures)
                #expect(Double(delay) >= (exponential * 0.8).rounded(.down), "after \(failures): \(delay)")
                #expect(Double(delay) <= min(60_000, (exponential * 1.2).rounded(.up)), "after \(failures): \(delay)")
            }
        }
        for failures in [63, 64, 1_000, Int.max] {
            let delay = backoff.delayMs(afterFailures: failures)
            #expect((48_000...60_000).contains(delay), "after \(failures): \(delay)")
        }
        let exact = MLRetryBackoff(base: .milliseconds(250), maximum: .seconds(3_600), jitter: 0)
        #expect((1...5).map { exact.delayMs(afterFailures: $0) } == [250, 500, 1_000, 2_000, 4_000])
    }

    /// A named queue with three slots runs three of its jobs at once, never more.
    @Test(arguments: Backends.allFixtures())
    func aNamedQueueRunsExactlyItsSlotsAtOnce(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let meter = ConcurrencyMeter()
        let release = Gate()
        let workers = h.start(workerConfiguration(count: 1, queues: ["batch": 3])) { workers in
            workers.register(.backfill) { _ in
                meter.enter()
                defer { meter.leave() }
                await release.wait()
                return [:]
            }
        }
        let ids = try await h.queue.submitJobs((0..<9).map {
            MLJobSubmission(kind: .backfill, target: "t\($0)", queue: "batch")
        }).map(\.id)
        try await eventually("three jobs to run at once") { meter.current == 3 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(meter.current == 3)
        #expect(try await h.queue.jobs(MLJobQuery(status: .running, queue: "batch")).jobs.count == 3)
        release.open()
        for id in ids { try await waitForStatus(h.queue, id, .completed) }
        try await workers.stop()
        #expect(meter.maximum == 3)
    }
}
