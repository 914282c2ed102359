import Foundation
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// Conditional writes stay exact when writers on separate pools (separate
/// sessions, as separate processes would have) race on the same rows.
@Suite("PostgreSQL concurrent writers", .needsPostgres)
struct ConcurrencyTests {
    @Test("many tasks on two pools incrementing one counter by revision-conditional batches lose no increment")
    func compareAndSwapCounter() async throws {
        let tasks = 12
        let increments = 20
        let final = try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { first in
                try await Scratch.withOwnPool(schema: schemas[0]) { second in
                    try await first.put(namespace: MLNamespace.models, key: "counter", value: "0")
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for task in 0..<tasks {
                            let store = task.isMultiple(of: 2) ? first : second
                            group.addTask {
                                for _ in 0..<increments { try await Self.increment(store) }
                            }
                        }
                        try await group.waitForAll()
                    }
                    return try await second.get(namespace: MLNamespace.models, key: "counter")
                }
            }
        }
        #expect(final == "\(tasks * increments)")
    }

    /// Adds one to the counter with compare-and-swap, retrying on conflict.
    private static func increment(_ store: PostgresMLPersistence) async throws {
        while true {
            let entry = try #require(try await store.entry(namespace: MLNamespace.models, key: "counter"))
            let count = try #require(Int(entry.value))
            var batch = MLBatch()
            batch.put(namespace: MLNamespace.models, key: "counter", value: "\(count + 1)", if: .revision(entry.revision))
            // A second entry in the same batch: both or neither must land.
            batch.put(namespace: MLNamespace.jobs, key: "increment-\(count + 1)", value: "\(entry.revision.rawValue)", if: .absent)
            do {
                try await store.commit(batch)
                return
            } catch let error as MLPersistenceError where error.code == "conflict" {
                continue
            }
        }
    }

    @Test("claims by put-if-absent from two pools have exactly one winner each")
    func claimsHaveOneWinner() async throws {
        let keys = 10
        let racersPerPool = 6
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { first in
                try await Scratch.withOwnPool(schema: schemas[0]) { second in
                    let wins = try await withThrowingTaskGroup(of: [String].self) { group in
                        for racer in 0..<(2 * racersPerPool) {
                            let store = racer < racersPerPool ? first : second
                            group.addTask {
                                var won: [String] = []
                                for key in 0..<keys {
                                    var batch = MLBatch()
                                    batch.put(namespace: MLNamespace.jobs, key: "claim-\(key)", value: "racer \(racer)", if: .absent)
                                    do {
                                        try await store.commit(batch)
                                        won.append("claim-\(key)")
                                    } catch let error as MLPersistenceError where error.code == "conflict" {}
                                }
                                return won
                            }
                        }
                        return try await group.reduce(into: [String]()) { $0 += $1 }
                    }
                    #expect(wins.sorted() == (0..<keys).map { "claim-\($0)" }.sorted())
                    #expect(try await first.list(namespace: MLNamespace.jobs).count == keys)
                }
            }
        }
    }

    @Test("the registry numbers versions without gaps or duplicates when two pools register at once")
    func registryVersionNumbers() async throws {
        let tasks = 6
        let perTask = 5
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { first in
                try await Scratch.withOwnPool(schema: schemas[0]) { second in
                    let numbers = try await withThrowingTaskGroup(of: [UInt32].self) { group in
                        for task in 0..<tasks {
                            let registry = MLModelRegistry(store: task.isMultiple(of: 2) ? first : second)
                            group.addTask {
                                var mine: [UInt32] = []
                                for index in 0..<perTask {
                                    let version = try await registry.register(
                                        MLRegistration(model: "raced", createdBy: "task\(task)"),
                                        weights: Data("task \(task) weights \(index)".utf8))
                                    mine.append(version.version)
                                }
                                return mine
                            }
                        }
                        return try await group.reduce(into: [UInt32]()) { $0 += $1 }
                    }
                    #expect(numbers.sorted() == Array(1...UInt32(tasks * perTask)))
                }
            }
        }
    }
}
