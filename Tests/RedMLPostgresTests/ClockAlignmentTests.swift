import Foundation
import RedML
import RedMLPostgres
@testable import RedMLQueue
import RedMLTestFixtures
import Testing

/// Processes on machines whose clocks disagree, sharing one PostgreSQL store.
@Suite("PostgreSQL clock alignment", .needsPostgres)
struct ClockAlignmentTests {
    /// The system clock, `skewMs` off.
    struct SkewedClock: MLClock {
        let skewMs: Int64
        var nowMs: Int64 { MLSystemClock().nowMs + skewMs }
        func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
    }

    static func queue(_ store: PostgresMLPersistence, skewMs: Int64) -> MLJobQueue {
        var configuration = MLJobQueue.Configuration()
        configuration.clock = MLAlignedClock(base: SkewedClock(skewMs: skewMs))
        return MLJobQueue(store: store, configuration: configuration)
    }

    @Test("two machines 20 s apart keep to the server's clock, and neither takes the other's live lease for expired")
    func skewedMachinesAgreeOnLeases() async throws {
        try await Scratch.withSchemas { schemas in
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let behind = Self.queue(store, skewMs: -10_000)
            let ahead = Self.queue(store, skewMs: 10_000)
            let behindOffset = try #require(try await behind.alignClock())
            let aheadOffset = try #require(try await ahead.alignClock())
            // The test's server is local: the offsets undo the skews, to within a round trip or so.
            #expect(abs(behindOffset - 10_000) < 500, "offset \(behindOffset)")
            #expect(abs(aheadOffset + 10_000) < 500, "offset \(aheadOffset)")
            #expect(abs(behind.clock.nowMs - ahead.clock.nowMs) < 500)

            let id = try await behind.submit(MLJobSubmission(kind: .train, target: "m"))
            let claimed = try await behind.claim(queue: "default", worker: "behind", leaseMs: 4_000, limit: 1)
            #expect(claimed.map(\.job.id) == [id])

            // The machine ahead sees a lease with 4 s left, not one that ran out 16 s ago.
            #expect(try await ahead.rescueExpiredLeases() == 0)
            let job = try #require(try await ahead.job(id))
            #expect(job.status == .running && job.worker == "behind" && job.leaseExpiries == 0)

            // Without alignment, the same machine would have taken it: the hazard is real.
            let unaligned = Self.queue(store, skewMs: 10_000)
            #expect(try await unaligned.rescueExpiredLeases() == 1)
            #expect(try await unaligned.job(id)?.status == .queued)
        }
    }

    @Test("a store without a server clock, or a clock that is not an MLAlignedClock, is left as it is")
    func nothingToAlign() async throws {
        let memory = MLJobQueue(store: InMemoryMLPersistence())
        #expect(try await memory.alignClock() == nil)
        #expect((memory.clock as? MLAlignedClock)?.offsetMs == 0)

        try await Scratch.withSchemas { schemas in
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            var configuration = MLJobQueue.Configuration()
            let manual = MLManualClock(nowMs: 1_800_000_000_000)
            configuration.clock = manual
            let queue = MLJobQueue(store: store, configuration: configuration)
            #expect(try await queue.alignClock() == nil)
            #expect(queue.clock.nowMs == 1_800_000_000_000)
        }
    }

    @Test("workers keep their queue's clock to the server's before they claim")
    func workersAlignBeforeClaiming() async throws {
        try await Scratch.withSchemas { schemas in
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = Self.queue(store, skewMs: 30_000)
            let workers = MLJobWorkers(queue: queue)
            let started = AsyncStream.makeStream(of: Int64.self)
            workers.register(.train) { job in
                started.continuation.yield(job.job.leaseExpiresAtMs ?? 0)
                return [:]
            }
            let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await workers.run() }
                var leaseExpiry: Int64 = 0
                for await expiry in started.stream {
                    leaseExpiry = expiry
                    break
                }
                workers.beginShutdown()
                try await group.waitForAll()
                // Written in the server's time (this machine's, here), not 30 s ahead of it.
                let serverNow = try await store.serverTimeMs()
                #expect(leaseExpiry <= serverNow + 5_000, "lease to \(leaseExpiry), server time \(serverNow)")
                #expect(leaseExpiry > serverNow - 30_000)
            }
            #expect(try await queue.job(id)?.status == .completed)
        }
    }
}
