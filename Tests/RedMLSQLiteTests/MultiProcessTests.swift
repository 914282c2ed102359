import Foundation
import RedML
import Testing

/// Several agent processes on one file at the same time.
@Suite("Multiple processes")
struct MultiProcessTests {
    @Test("4 processes × 150 compare-and-swap increments of one key end at exactly 600")
    func casIncrementAcrossProcesses() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("counter.sqlite")
        // Create the file first, so the agents race on the counter rather than on creating the schema.
        try SQLiteMLPersistence(path: path).close()
        let agents = try (0..<4).map { _ in try Agent.start("cas-increment", path, "hits", "150") }
        defer { agents.forEach { $0.kill() } }
        for agent in agents {
            try await agent.expectCleanExit(timeout: .seconds(60))
            #expect(agent.lines.contains { $0.hasPrefix("done ") }, "\(agent.diagnostics)")
        }
        let store = try SQLiteMLPersistence(path: path)
        let entry = try #require(try await store.entry(namespace: "counters", key: "hits"))
        #expect(entry.value == "600")
        try await StoreHelpers.expectHealthy(store)
        try store.close()
    }

    @Test("4 processes × 2000 puts with distinct prefixes: all 8000 keys present, all exit 0")
    func concurrentPutLoops() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("puts.sqlite")
        try SQLiteMLPersistence(path: path).close()
        let prefixes = ["p0", "p1", "p2", "p3"]
        let agents = try prefixes.map { try Agent.start("put-loop", path, $0, "2000") }
        defer { agents.forEach { $0.kill() } }
        for agent in agents {
            try await agent.expectCleanExit(timeout: .seconds(60))
            #expect(agent.acks == Array(0..<2000), "\(agent.diagnostics)")
        }
        let store = try SQLiteMLPersistence(path: path)
        for prefix in prefixes {
            let indices = try await StoreHelpers.indices(store, "crash", prefix: prefix)
            #expect(indices == Array(0..<2000), "\(prefix): \(indices.count) keys")
        }
        #expect(try await store.list(namespace: "crash").count == 8000)
        try await StoreHelpers.expectHealthy(store)
        try store.close()
    }

    @Test("6 processes open a brand-new file at the same instant: all succeed, schema migrated once")
    func concurrentFirstOpen() async throws {
        let directory = try TemporaryDirectory()
        for round in 0..<5 {
            let path = directory.path("fresh-\(round).sqlite")
            let agents: [ChildProcess]
            if round == 0 {
                // Plain `open`: the agents race as fast as they start.
                agents = try (0..<6).map { _ in try Agent.start("open", path) }
            } else {
                // `open-at`: every agent sleeps until one wall-clock instant, so the
                // opens coincide however long each process took to start.
                let instant = Int64((Date().timeIntervalSince1970 + 0.6) * 1000)
                agents = try (0..<6).map { _ in try Agent.start("open-at", path, "\(instant)") }
            }
            defer { agents.forEach { $0.kill() } }
            for agent in agents {
                try await agent.expectCleanExit()
                #expect(agent.lines == ["opened"], "round \(round): \(agent.diagnostics)")
            }
            let version = try await SQLiteShell.run(path, "PRAGMA user_version")
            #expect(version == "\(SQLiteMLPersistence.schemaVersion)", "round \(round)")
            #expect(try await SQLiteShell.run(path, "PRAGMA journal_mode") == "wal", "round \(round)")
            // Migrated exactly once: one revision row, and the tables hold nothing.
            #expect(try await SQLiteShell.run(path, "SELECT id, revision FROM ml_state") == "1|0", "round \(round)")
            let store = try SQLiteMLPersistence(path: path)
            try await StoreHelpers.expectHealthy(store)
            try await StoreHelpers.expectWritable(store)
            try store.close()
        }
    }
}
