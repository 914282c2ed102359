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
}
