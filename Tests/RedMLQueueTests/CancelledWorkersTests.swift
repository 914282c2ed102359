import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Cancelling the workers' task (a service group that escalates its
/// shutdown, say) stops them at once, with no grace period; an outcome the
/// store does not take is given up after ``MLJobWorkers/outcomeWriteGrace``,
/// as at the end of a graceful shutdown, so that `run()` still ends.
@Suite("Cancelled workers")
struct CancelledWorkersTests {
    @Test(arguments: Backends.allFixtures())
    func anOutcomeTheStoreDoesNotTakeIsGivenUp(_ fixture: MLStoreFixture) async throws {
        let counting = CountingStore(try await fixture.makeStore())
        let h = Harness(store: counting)
        let hold = counting.holdCompletions(reason: "interrupted")
        defer { hold.release.open() }
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        workers.task.cancel()
        try await eventually("the interrupted outcome to reach the store") { hold.arrivals.value == 1 }
        // The store holds the write: the workers wait for it up to the outcome's grace (5 s).
        h.clock.advance(by: .seconds(4))
        try await Task.sleep(for: .milliseconds(200))
        #expect(!workers.hasFinished, "run() gave up the outcome before its grace ended")
        try await advance(h.clock, by: .seconds(1), until: "run() to give up the outcome and return") {
            workers.hasFinished
        }
        // Given up, the attempt was not recorded: the job is still running, with the lease that
        // will expire, and the rescue puts it back without using up an attempt.
        hold.release.open()
        h.clock.advance(by: .seconds(60))
        try await eventually("the job to be back in the queue") {
            _ = try await h.queue.rescueExpiredLeases()
            return try await h.queue.requireJob(id).status == .queued
        }
        let job = try await h.queue.requireJob(id)
        #expect(job.failures == 0, "an interruption used up an attempt")
    }
}
