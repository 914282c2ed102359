import Foundation
import RedML
import RedMLPostgres
@testable import RedMLQueue
import RedMLTestFixtures
import Synchronization
import Testing

/// Several claim loops per queue on PostgreSQL: their claims run at once and never share a job.
@Suite("PostgreSQL claim loops", .needsPostgres)
struct ClaimLoopTests {
    @Test("a queue's slots are shared out evenly among its claim loops")
    func sharesAreEven() {
        #expect(MLJobWorkers.shares(of: 64, among: 4) == [16, 16, 16, 16])
        #expect(MLJobWorkers.shares(of: 10, among: 4) == [3, 3, 2, 2])
        #expect(MLJobWorkers.shares(of: 2, among: 4) == [1, 1])
        #expect(MLJobWorkers.shares(of: 5, among: 1) == [5])
    }

    @Test("48 slots in three claim loops drain a backlog, each job claimed and completed once")
    func threeLoopsDrainExactlyOnce() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0], connections: 12) { store in
                let queue = MLJobQueue(store: store)
                let count = 600
                var ids: [UInt128] = []
                for start in stride(from: 0, to: count, by: 200) {
                    ids += try await queue.submitJobs((start..<start + 200).map {
                        MLJobSubmission(kind: .train, target: "m", spec: ["i": .int(Int64($0))])
                    }).map(\.id)
                }
                var configuration = MLJobWorkers.Configuration()
                configuration.workerCount = 48
                let workers = MLJobWorkers(queue: queue, configuration: configuration)
                let runs = Mutex<[UInt128: Int]>([:])
                let concurrent = Mutex((now: 0, most: 0))
                workers.register(.train) { job in
                    concurrent.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                    defer { concurrent.withLock { $0.now -= 1 } }
                    let total = runs.withLock { runs -> Int in
                        runs[job.id, default: 0] += 1
                        return runs.values.reduce(0, +)
                    }
                    try await Task.sleep(for: .milliseconds(2))
                    if total == count { workers.beginShutdown() }
                    return [:]
                }
                try await workers.run()
                let counted = runs.withLock { $0 }
                #expect(counted.count == count)
                #expect(counted.values.allSatisfy { $0 == 1 }, "a job ran twice")
                #expect(concurrent.withLock { $0.most } <= 48)
                for id in ids {
                    let job = try #require(try await queue.job(id))
                    #expect(job.status == .completed)
                    #expect(try await queue.history(of: id).filter { $0.reason == "claimed" }.count == 1)
                }
            }
        }
    }
}
