import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Damage and slow handlers must not stall the queue or let a job run twice.
@Suite("Robustness")
struct RobustnessTests {
    /// (PostgreSQL's job table has its own version of this test, in RedMLPostgresTests.)
    @Test(arguments: Backends.keyValueJobFixtures())
    func aCorruptJobRecordDoesNotStallTheQueue(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        // A job whose record is then damaged behind the queue's back, ahead of a good one.
        let damaged = try await h.queue.submit(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
        try await h.store.put(namespace: MLNamespace.jobs, key: MLKey.job(damaged), value: "{not json")
        let good = try await h.queue.submit(MLJobSubmission(kind: .train, target: "good"))
        let workers = h.start { workers in workers.register(.train) { _ in ["ok": true] } }
        let done = try await waitForStatus(h.queue, good, .completed)
        try await workers.stop()
        #expect(done.metrics?["ok"] == true)
        // The damaged record stays where listings report it; its ready entry is gone.
        #expect(try await h.queue.jobs().skipped.count == 1)
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)
    }

    @Test(arguments: Backends.allFixtures())
    func aHandlerSlowToStopKeepsItsLeaseUntilItReturns(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let stopping = Gate()
        let finish = Gate()
        let workers = h.start(workerConfiguration(heartbeat: .seconds(1))) { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()  // the timeout cancels it…
                stopping.open()
                // …but it takes a while to stop (it ignores cancellation until the test lets it go).
                await finish.waitIgnoringCancellation()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "slow", maxAttempts: 2,
                                                          timeout: .seconds(1)))
        await started.wait()
        try await advance(h.clock, by: .seconds(1), until: "the timeout to stop the handler") { stopping.isOpen }
        // Well past the lease (2 s) while the handler is still stopping: the lease is renewed,
        // so nothing rescues the job and no second attempt starts.
        // Real time between steps lets the renewal keep up on a loaded 2-core machine.
        for _ in 0..<10 {
            h.clock.advance(by: .milliseconds(500))
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await h.queue.rescueExpiredLeases() == 0)
        }
        #expect(try await h.queue.requireJob(id).attempt == 1)
        finish.open()
        let retrying = try await waitForJob(h.queue, id, "the timeout recorded") { $0.failures == 1 }
        try await workers.stop()
        #expect(retrying.error == "timed out after 1000 ms")
        #expect(try await h.queue.history(of: id).map(\.reason).contains("lease_expired") == false)
    }

    @Test(arguments: Backends.allFixtures())
    func aHandlerStillRunningAfterTheShutdownGraceKeepsItsLease(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let interrupted = Gate()
        let finish = Gate()
        let workers = h.start(workerConfiguration(gracePeriod: .seconds(1), heartbeat: .seconds(1))) { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()  // the end of the grace period interrupts it…
                interrupted.open()
                await finish.waitIgnoringCancellation()  // …but it takes a while to stop
                throw CancellationError()
            }
        }
        defer { finish.open() }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "slow"))
        await started.wait()
        workers.workers.beginShutdown()
        try await advance(h.clock, by: .milliseconds(500), until: "the grace period to interrupt the handler") { interrupted.isOpen }
        // Well past the grace period, the give-up point for outcomes (5 s more) and the lease (2 s):
        // the handler has not returned, so its lease is still renewed and nobody else runs the job.
        for _ in 0..<20 {
            h.clock.advance(by: .milliseconds(500))
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await h.queue.rescueExpiredLeases() == 0)
        }
        #expect(try await h.queue.requireJob(id).status == .running)
        finish.open()
        try await workers.stop()
        let job = try await h.queue.requireJob(id)
        #expect(job.status == .queued && job.attempt == 1 && job.failures == 0, "interrupted, back in the queue: \(job)")
    }
}
