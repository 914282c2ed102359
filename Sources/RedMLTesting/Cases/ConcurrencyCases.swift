import RedMLPersistence

/// Conditional writes stay exact when many tasks race.
enum ConcurrencyCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("concurrency.putIfAbsentHasOneWinner") { fixture in
            let store = try await fixture.makeStore()
            let racers = 16
            for round in 0..<8 {
                let key = "lease-\(round)"
                let winners = try await withThrowingTaskGroup(of: Int?.self) { group in
                    for racer in 0..<racers {
                        group.addTask {
                            do {
                                try await Support.commit(store) {
                                    $0.put(namespace: "jobs", key: key, value: "racer \(racer)", if: .absent)
                                }
                                return racer
                            } catch let error as MLPersistenceError where error.code == "conflict" {
                                return nil
                            }
                        }
                    }
                    var winners: [Int] = []
                    for try await winner in group {
                        if let winner { winners.append(winner) }
                    }
                    return winners
                }
                try expectEqual(winners.count, 1, "number of racers whose put-if-absent of \(key) succeeded")
                try expectEqual(
                    try await store.get(namespace: "jobs", key: key), "racer \(winners[0])",
                    "value of \(key): the winner's")
            }
            try expectEqual(try await store.list(namespace: "jobs").count, 8, "number of leases")
        },
        MLConformanceCase("concurrency.compareAndSwapCounter") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "models", key: "counter", value: "0")
            let tasks = 8
            let increments = 50
            let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        var conflicts = 0
                        for _ in 0..<increments {
                            while true {
                                let entry = try expectNotNil(
                                    try await store.entry(namespace: "models", key: "counter"), "counter entry")
                                let count = try expectNotNil(
                                    Int(entry.value), "counter value \"\(entry.value)\" as Int")
                                do {
                                    try await Support.commit(store) {
                                        $0.put(
                                            namespace: "models", key: "counter", value: "\(count + 1)",
                                            if: .revision(entry.revision))
                                    }
                                    break
                                } catch let error as MLPersistenceError where error.code == "conflict" {
                                    conflicts += 1
                                    try expect(conflicts < 100_000, "a task retried its CAS 100000 times")
                                }
                            }
                        }
                        return conflicts
                    }
                }
                return try await group.reduce(0, +)
            }
            try expectEqual(
                try await store.get(namespace: "models", key: "counter"), "\(tasks * increments)",
                "counter after \(tasks) tasks each made \(increments) CAS increments (\(conflicts) retries)")
        },
    ]
}
