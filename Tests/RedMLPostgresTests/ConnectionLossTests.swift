import Logging
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// A connection the server drops surfaces as an ``MLPersistenceError``, and the pool reconnects.
@Suite("PostgreSQL connection loss", .needsPostgres)
struct ConnectionLossTests {
    @Test("after the server terminates the store's connection, calls fail with MLPersistenceError or succeed, and then succeed")
    func terminatedConnection() async throws {
        try await Scratch.withSchemas { schemas in
            // One connection, so the one terminated is the one the next call would use.
            try await Scratch.withOwnPool(schema: schemas[0], connections: 1) { store in
                try await store.put(namespace: MLNamespace.models, key: "m", value: "before")
                // A read leaves a statement naming the schema's table as the connection's last query.
                #expect(try await store.get(namespace: MLNamespace.models, key: "m") == "before")
                let pid = try #require(try await Self.backendPID(schema: schemas[0], store: store))
                try await PostgresBackend.sharedClient().query("SELECT pg_terminate_backend(\(pid)::integer)")
                var failures: [MLPersistenceError] = []
                var value: String?
                for attempt in 0..<20 where value == nil {
                    do {
                        try await store.put(namespace: MLNamespace.models, key: "m", value: "after \(attempt)")
                        value = try await store.get(namespace: MLNamespace.models, key: "m")
                    } catch let error as MLPersistenceError {
                        #expect(error.code == "backend", "\(error)")
                        failures.append(error)
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                #expect(value?.hasPrefix("after") == true, "the pool never reconnected: \(failures)")
            }
        }
    }

    @Test("a connection the server closed while idle in the pool is replaced, not used", .timeLimit(.minutes(1)))
    func closedIdleConnection() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0], connections: 1) { store in
                try await store.put(namespace: MLNamespace.models, key: "m", value: "before")
                #expect(try await store.get(namespace: MLNamespace.models, key: "m") == "before")
                let pid = try #require(try await Self.backendPID(schema: schemas[0], store: store))
                try await PostgresBackend.sharedClient().query("SELECT pg_terminate_backend(\(pid)::integer)")
                try await Task.sleep(for: .milliseconds(300))  // the client has seen the connection close
                // Nothing was sent on the closed connection, so the very next call succeeds.
                try await store.put(namespace: MLNamespace.models, key: "m", value: "after")
                #expect(try await store.get(namespace: MLNamespace.models, key: "m") == "after")
            }
        }
    }

    @Test("a statement stranded on a connection the server closes fails soon after, instead of waiting for ever",
          .timeLimit(.minutes(1)))
    func strandedStatementFails() async throws {
        let client = try PostgresBackend.sharedClient()
        let watch = ClosedConnectionWatch(grace: .milliseconds(200))
        let started = ContinuousClock.now
        let outcome: Result<Int, any Error> = try await client.withConnection { connection in
            let pid = try #require(try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "test"))
                .collect().first?.decode(Int32.self))
            return try await withThrowingTaskGroup(of: Result<Int, any Error>?.self) { group in
                // A statement PostgresNIO never answers, as when its write is dropped by a closing channel.
                group.addTask {
                    do {
                        return .success(try await watch.run(on: connection) {
                            try? await Task.sleep(for: .seconds(30))
                            return 1
                        })
                    } catch {
                        return .failure(error)
                    }
                }
                group.addTask {
                    try await client.query("SELECT pg_terminate_backend(\(pid))")
                    return nil
                }
                var outcome: Result<Int, any Error>?
                for try await result in group where result != nil { outcome = result }
                return try #require(outcome)
            }
        }
        #expect(throws: PostgresConnectionClosed.self) { try outcome.get() }
        #expect(ContinuousClock.now - started < .seconds(10), "it waited for the stranded statement")
        #expect(watch.inFlightCount == 0)
    }

    /// The server process of the store's only connection, found by the last
    /// statement it ran, which names the test's own schema.
    private static func backendPID(schema: String, store: PostgresMLPersistence) async throws -> Int64? {
        let rows = try await Scratch.textRows(
            """
            SELECT pid::text FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND backend_type = 'client backend'
              AND query LIKE \("%\"" + schema + "\".ml_kv%")
            ORDER BY backend_start DESC LIMIT 1
            """, columns: 1)
        return rows.first.flatMap { Int64($0) }
    }
}
