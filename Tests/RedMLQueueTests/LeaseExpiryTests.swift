import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

@testable import RedMLQueue

/// A job whose worker keeps dying under it: lost leases use up no attempt,
/// so only the bound on lease expiries keeps it from running forever.
@Suite("Lease expiries")
struct LeaseExpiryTests {
    /// A worker claims the one ready job and dies (nobody renews the lease);
    /// `meanwhile` runs while it holds the job. Then the lease runs out and is rescued.
    private static func loseLease(
        _ queue: MLJobQueue, _ h: Harness, worker: String, expecting id: UInt128? = nil,
        meanwhile: () async throws -> Void = {}
    ) async throws {
        let claimed = try await queue.claim(queue: "default", worker: worker, leaseMs: 1_000, limit: 1)
        #expect(claimed.count == 1)
        if let id { #expect(claimed.first?.job.id == id) }
        try await meanwhile()
        h.clock.advance(by: .seconds(2))
        #expect(try await queue.rescueExpiredLeases() == 1)
    }

    /// A queue over the harness's store and clock that gives up after `maximumLeaseExpiries`.
    private static func queue(_ h: Harness, maximumLeaseExpiries: Int) -> MLJobQueue {
        var configuration = MLJobQueue.Configuration()
        configuration.clock = h.clock
        configuration.maximumLeaseExpiries = maximumLeaseExpiries
        return MLJobQueue(store: h.store, configuration: configuration)
    }

    @Test("a job whose lease keeps running out fails at the maximum, its attempts untouched", arguments: Backends.allFixtures())
    func failsAtTheMaximumOfLeaseExpiries(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let queue = Self.queue(h, maximumLeaseExpiries: 3)
        let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 1))

        for expiry in 1...3 {
            try await Self.loseLease(queue, h, worker: "dying-\(expiry)", expecting: id)
            let job = try await queue.requireJob(id)  // read back from the store, not from a cache
            #expect(job.leaseExpiries == expiry)
            #expect(job.failures == 0, "a lost lease must not count as a failed attempt")
            #expect(job.attempt == expiry)
            if expiry < 3 {
                #expect(job.status == .queued)
                #expect(job.error == nil)
            } else {
                #expect(job.status == .failed)
                #expect(job.error?.contains("ran out 3 times") == true, "error: \(job.error ?? "-")")
                #expect(job.finishedAtMs == h.clock.nowMs)
            }
        }
        #expect(try await queue.claim(queue: "default", worker: "late", leaseMs: 1_000, limit: 1).isEmpty)
        let rescues = try await queue.history(of: id).filter { $0.reason == "lease_expired" }
        #expect(rescues.map(\.to) == [.queued, .queued, .failed])
        #expect(rescues.map(\.worker) == ["dying-1", "dying-2", "dying-3"])
        // A fresh queue over the same store reads the count from the record.
        #expect(try await h.reopened().requireJob(id).leaseExpiries == 3)
    }

    @Test("a maximum below 1 counts as 1: the first expiry fails the job", arguments: Backends.allFixtures())
    func aMaximumBelowOneCountsAsOne(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let queue = Self.queue(h, maximumLeaseExpiries: 0)
        let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await Self.loseLease(queue, h, worker: "dying")
        let job = try await queue.requireJob(id)
        #expect(job.status == .failed)
        #expect(job.error?.contains("a job fails after 1 ") == true, "error: \(job.error ?? "-")")
    }

    @Test("a cancelled job whose lease ran out ends cancelled, whatever its count", arguments: Backends.allFixtures())
    func aCancelledJobEndsCancelled(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let queue = Self.queue(h, maximumLeaseExpiries: 1)
        let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await Self.loseLease(queue, h, worker: "dying") {
            let outcome = try await queue.cancel(id)
            #expect(outcome == .requested)
        }
        let job = try await queue.requireJob(id)
        #expect(job.status == .cancelled)
        #expect(job.leaseExpiries == 1)
        #expect(job.error == nil)
    }
}
