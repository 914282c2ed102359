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
}
