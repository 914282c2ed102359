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
        // Timed from the close, not from the start, which under load waits for the shared pool's connections.
        let (outcome, failed, closed) = try await client.withConnection { connection in
            let pid = try #require(try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "test"))
                .collect().first?.decode(Int32.self))
            return try await withThrowingTaskGroup(of: StrandedEnd.self) { group in
                // A statement PostgresNIO never answers, as when its write is dropped by a closing channel.
                group.addTask {
                    do {
                        return .statement(.success(try await watch.run(on: connection) {
                            try? await Task.sleep(for: .seconds(30))
                            return 1
                        }), at: .now)
                    } catch {
                        return .statement(.failure(error), at: .now)
                    }
                }
                group.addTask {
                    try await client.query("SELECT pg_terminate_backend(\(pid))")
                    return .closed(at: .now)
                }
                var outcome: (Result<Int, any Error>, ContinuousClock.Instant)?
                var closed: ContinuousClock.Instant?
                for try await end in group {
                    switch end {
                    case .statement(let result, let at): outcome = (result, at)
                    case .closed(let at): closed = at
                    }
                }
                let (result, failed) = try #require(outcome)
                return (result, failed, try #require(closed))
            }
        }
        #expect(throws: PostgresConnectionClosed.self) { try outcome.get() }
        // The statement sleeps 30 s: ended within 10 s of the close, it did not wait for it.
        #expect(failed - closed < .seconds(10), "it waited for the stranded statement")
        #expect(watch.inFlightCount == 0)
    }

    /// How each side of ``strandedStatementFails()`` ended, and when.
    enum StrandedEnd: Sendable {
        case statement(Result<Int, any Error>, at: ContinuousClock.Instant)
        case closed(at: ContinuousClock.Instant)
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
