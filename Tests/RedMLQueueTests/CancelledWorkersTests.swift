import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Cancelling the workers' task (a service group that escalates its
/// shutdown, say) ends the grace period then and there; an outcome the store
/// does not take is given up ``MLJobWorkers/outcomeWriteGrace`` (5 s) later,
/// as at the end of a graceful shutdown, so that `run()` still ends.
@Suite("Cancelled workers")
struct CancelledWorkersTests {
    @Test(arguments: Backends.allFixtures())
    func anOutcomeTheStoreDoesNotTakeIsGivenUp(_ fixture: MLStoreFixture) async throws {
        try await cancelWithTheOutcomeHeld(fixture, gracePeriod: .seconds(1), gracefulFirst: false)
    }

    /// A handler that returns when the workers' task cancels it returns partial
    /// work: its job goes back to the queue, as at the end of a grace period.
    @Test(arguments: Backends.allFixtures())
    func aHandlerThatReturnsWhenCancelledIsInterrupted(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()
                return ["partial": .int(1)]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        workers.task.cancel()
        _ = try? await workers.task.value
        let job = try await h.queue.requireJob(id)
        #expect(job.status == .queued, "a handler cut short by a cancel was recorded as \(job.status)")
        #expect(job.failures == 0)
        #expect(job.metrics == nil)
    }

    /// Cancelled during a graceful shutdown with a long grace period: the
    /// outcome is given up 5 s after the cancel, not 5 s after that grace.
    @Test(arguments: Backends.allFixtures())
    func aCancelDuringAGracefulShutdownEndsItsGracePeriod(_ fixture: MLStoreFixture) async throws {
        try await cancelWithTheOutcomeHeld(fixture, gracePeriod: .seconds(30), gracefulFirst: true)
    }

    /// Runs a job whose handler waits for cancellation, holds the write of its
    /// interrupted outcome, cancels the workers' task (after beginning a graceful
    /// shutdown, with `gracefulFirst`) and checks that `run()` gives the write up
    /// 5 s after the cancel, and that the job is then rescued without using up an attempt.
    private func cancelWithTheOutcomeHeld(_ fixture: MLStoreFixture, gracePeriod: Duration, gracefulFirst: Bool) async throws {
        let counting = CountingStore(try await fixture.makeStore())
        let h = Harness(store: counting)
        let hold = counting.holdCompletions(reason: "interrupted")
        defer { hold.release.open() }
        let started = Gate()
        let workers = h.start(workerConfiguration(gracePeriod: gracePeriod)) { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        if gracefulFirst { workers.workers.beginShutdown() }
        workers.task.cancel()
        try await eventually("the interrupted outcome to reach the store") { hold.arrivals.value == 1 }
        // The store holds the write: the workers wait for it up to the outcome's grace (5 s).
        h.clock.advance(by: .seconds(4))
        try await Task.sleep(for: .milliseconds(200))
        #expect(!workers.hasFinished, "run() gave up the outcome before its grace ended")
        // Then a little at a time: the wait for those 5 s may have begun only after the clock moved
        // (9 s from the cancel, or later on a starved machine), but a wait for the 30 s grace as
        // well would need 35 s.
        var advanced = Duration.seconds(4)
        let began = ContinuousClock.now
        while !workers.hasFinished, advanced < .seconds(25), ContinuousClock.now - began < .seconds(30) {
            h.clock.advance(by: .milliseconds(250))
            advanced += .milliseconds(250)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(workers.hasFinished, "run() had not given up the outcome \(advanced) after the cancel")
        try await eventually("run() to return") { workers.hasFinished }
        // Given up, the attempt was not recorded: the job is still running, with the lease that
        // will expire, and the rescue puts it back without using up an attempt.
        #expect(try await h.queue.requireJob(id).status == .running, "the given-up outcome was written")
        hold.release.open()
        h.clock.advance(by: .seconds(60))
        try await eventually("the job to be back in the queue") {
            _ = try await h.queue.rescueExpiredLeases()
            return try await h.queue.requireJob(id).status == .queued
        }
        #expect(try await h.queue.requireJob(id).failures == 0, "an interruption used up an attempt")
    }
}
