import Foundation
import RedML
import RedMLPostgres
@testable import RedMLQueue
import RedMLTestFixtures
import Testing

/// When a native claim reads the time.
@Suite("PostgreSQL claims and the clock", .needsPostgres)
struct ClaimClockTests {
    @Test("a claim that waited for a connection starts the job and its lease when it locked the job, not before")
    func claimReadsTheClockAfterWaiting() async throws {
        try await Scratch.withSchemas { schemas in
            // One connection: while the test holds it, the claim can only wait.
            try await Scratch.withOwnPool(schema: schemas[0], connections: 1) { store in
                let startMs: Int64 = 1_800_000_000_000
                let clock = MLManualClock(nowMs: startMs)
                var configuration = MLJobQueue.Configuration()
                configuration.clock = clock
                let queue = MLJobQueue(store: store, configuration: configuration)
                let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m"))

                let (held, hold) = AsyncStream.makeStream(of: Void.self)
                let (release, releasing) = AsyncStream.makeStream(of: Void.self)
                let claimed = try await withThrowingTaskGroup(of: [(job: MLJob, revision: MLRevision)].self) { group in
                    group.addTask {
                        try await store.client.withConnection { _ in
                            hold.yield()
                            for await _ in release { break }
                        }
                        return []
                    }
                    for await _ in held { break }
                    group.addTask { try await queue.claim(queue: "default", worker: "w", leaseMs: 4_000, limit: 1) }
                    try await Task.sleep(for: .milliseconds(200))  // the claim is waiting for the connection
                    clock.advance(by: .seconds(60))
                    releasing.yield()
                    var result: [(job: MLJob, revision: MLRevision)] = []
                    for try await jobs in group { result += jobs }
                    return result
                }
                let job = try #require(claimed.first?.job)
                #expect(job.id == id)
                #expect(job.startedAtMs == startMs + 60_000)
                #expect(job.leaseExpiresAtMs == startMs + 64_000)
            }
        }
    }
}
