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
