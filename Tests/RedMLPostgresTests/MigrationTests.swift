import Foundation
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// The versioned schema: concurrent first starts, reopening, and refusing a newer schema.
@Suite("PostgreSQL migrations", .needsPostgres)
struct MigrationTests {
    @Test("four pools starting at once on a new schema migrate it once, and all of them can write")
    func concurrentFirstStarts() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = schemas[0]
            // Each store has its own pool, so each migrates on its own sessions,
            // exactly as four processes would.
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for starter in 0..<4 {
                    group.addTask {
                        try await Scratch.withOwnPool(schema: schema, connections: 2) { store in
                            try await store.put(namespace: MLNamespace.models, key: "from-\(starter)", value: "{}")
                            return try await store.storedSchemaVersion()
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(versions == Array(repeating: PostgresMLPersistence.schemaVersion, count: 4))
            let applied = try await Scratch.textRows(
                "SELECT version::text FROM \(unescaped: "\"\(schema)\"").redml_migrations ORDER BY version",
                columns: 1)
            #expect(applied == (1...PostgresMLPersistence.schemaVersion).map(String.init))
            let store = try await PostgresBackend.makeStore(schema: schema)
            let keys = try await store.list(namespace: MLNamespace.models).map(\.key).sorted()
            #expect(keys == ["from-0", "from-1", "from-2", "from-3"])
        }
    }

    @Test("a store opened again keeps its entries and applies no migration twice")
    func reopen() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { store in
                try await store.put(namespace: MLNamespace.jobs, key: "j", value: #"{"status":"queued"}"#)
            }
            let value = try await Scratch.withOwnPool(schema: schemas[0]) { store in
                try await store.get(namespace: MLNamespace.jobs, key: "j")
            }
            #expect(value == #"{"status":"queued"}"#)
            let applied = try await Scratch.textRows(
                "SELECT count(*)::text FROM \(unescaped: "\"\(schemas[0])\"").redml_migrations", columns: 1)
            #expect(applied == ["\(PostgresMLPersistence.schemaVersion)"])
        }
    }

    @Test("a schema written by a newer RedML is refused with schema_too_new, by migrate, any call and run()")
    func newerSchemaIsRefused() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = schemas[0]
            let store = try await PostgresBackend.makeStore(schema: schema)
            try await store.put(namespace: MLNamespace.models, key: "m", value: "{}")
            let known = PostgresMLPersistence.schemaVersion
            let future = known + 1
            try await PostgresBackend.sharedClient().query(
                "INSERT INTO \(unescaped: "\"\(schema)\"").redml_migrations (version, description) VALUES (\(future), 'from the future')"
            )
            let expected = "was written by a newer RedML (schema \(future), this build knows \(known)); upgrade RedML to open it"

            let later = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schema)
            let migrateError = await #expect(throws: MLPersistenceError.self) { try await later.migrate() }
            #expect(migrateError?.code == "schema_too_new")
            #expect(migrateError?.description.contains(expected) == true, "\(String(describing: migrateError))")

            let callError = await #expect(throws: MLPersistenceError.self) {
                _ = try await later.get(namespace: MLNamespace.models, key: "m")
            }
            #expect(callError?.code == "schema_too_new")

            // As a Service, it stops at once instead of serving.
            let service = try PostgresMLPersistence(url: try PostgresBackend.url(), schema: schema)
            let runError = await #expect(throws: MLPersistenceError.self) { try await service.run() }
            guard case .schemaTooNew(_, let found, let supported)? = runError else {
                Issue.record("run() threw \(String(describing: runError)), expected schemaTooNew")
                return
            }
            #expect(found == future && supported == known)
            // Nothing was changed: the entry is still there.
            let value = try await Scratch.textRows(
                "SELECT value FROM \(unescaped: "\"\(schema)\"").ml_kv WHERE key = 'm'", columns: 1)
            #expect(value == ["{}"])
        }
    }

    @Test("migration 4 moves the live-job index entries written before it into their own partition, and new ones go there too, up to schema 7")
    func liveJobPartition() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let older = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schemas[0])
            try await older.migrate(upTo: 3)
            #expect(try await older.storedSchemaVersion() == 3)
            // What a RedML of schema 3 left behind: an index entry, a record, a model.
            try await PostgresBackend.sharedClient().query(
                """
                INSERT INTO \(unescaped: schema).ml_kv (namespace, key, value, revision)
                SELECT n, k, v, nextval('\(unescaped: schema).ml_revision'::regclass)
                FROM (VALUES ('job_ready', 'default/1', 'j1'), ('jobs', 'j1', '{}'), ('models', 'm', '{}')) AS t (n, k, v)
                """)

            // Up to schema 7 only: migration 8 moves every job namespace out of ml_kv into the
            // job table (JobTableTests covers that). Any call of the store would migrate on, so
            // the later entries go in with SQL too.
            let store = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schemas[0])
            try await store.migrate(upTo: 7)
            #expect(try await store.storedSchemaVersion() == 7)
            try await PostgresBackend.sharedClient().query(
                """
                INSERT INTO \(unescaped: schema).ml_kv (namespace, key, value, revision)
                SELECT n, k, v, nextval('\(unescaped: schema).ml_revision'::regclass)
                FROM (VALUES ('job_leases', 'j1', 'lease'), ('job_history', 'j1/1', '{}')) AS t (n, k, v)
                """)
            let placement = try await Scratch.textRows(
                """
                SELECT k.namespace || ' ' || c.relname FROM \(unescaped: schema).ml_kv AS k
                JOIN pg_class AS c ON c.oid = k.tableoid ORDER BY k.namespace
                """, columns: 1)
            #expect(placement == [
                "job_history ml_kv_rest", "job_leases ml_kv_live", "job_ready ml_kv_live", "jobs ml_kv_rest",
                "models ml_kv_rest",
            ])
            // The operator views still read the records.
            let jobs = try await Scratch.textRows("SELECT id FROM \(unescaped: schema).ml_jobs", columns: 1)
            #expect(jobs == ["j1"])
        }
    }
}
