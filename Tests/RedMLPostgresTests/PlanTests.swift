import Foundation
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// How PostgreSQL executes a big batch: every row it checks or writes is
/// found through the primary key, however many rows the tables hold.
@Suite("PostgreSQL batch plans", .needsPostgres)
struct PlanTests {
    @Test("a big batch locks and checks its rows by index lookups, never by scanning ml_kv")
    func bigBatchesUseTheIndex() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = schemas[0]
            let quoted = "\"\(schema)\""
            let store = try await PostgresBackend.makeStore(schema: schema)
            // Enough rows in both partitions that a scan looks cheap to a planner that
            // takes the batch for a hundred rows (it did, at this size, before the fix).
            for round in 0..<6 {
                var batch = MLBatch()
                for index in 0..<1_000 {
                    let id = UInt128(round * 1_000 + index)
                    batch.put(namespace: MLNamespace.jobs, key: MLKey.job(id), value: #"{"n":\#(index)}"#)
                    if index % 2 == 0 {
                        batch.put(namespace: MLNamespace.jobReady, key: "r/\(MLKey.job(id))", value: MLKey.job(id))
                    }
                }
                try await store.commit(batch)
            }
            try await PostgresBackend.sharedClient().query("ANALYZE \(unescaped: quoted).ml_kv")

            // Forty conditional operations: past the size that ml_apply applies set by set.
            var operations: [[String: Any]] = []
            for index in stride(from: 0, to: 40, by: 2) {
                let id = UInt128(2_000 + index)
                let record = try #require(try await store.entry(namespace: MLNamespace.jobs, key: MLKey.job(id)))
                operations.append(["o": "put", "n": MLNamespace.jobs, "k": MLKey.job(id), "v": "{}", "c": "revision",
                                   "r": record.revision.rawValue])
                let ready = try #require(try await store.entry(namespace: MLNamespace.jobReady, key: "r/\(MLKey.job(id))"))
                operations.append(["o": "delete", "n": MLNamespace.jobReady, "k": "r/\(MLKey.job(id))", "c": "revision",
                                   "r": ready.revision.rawValue])
            }
            let json = String(decoding: try JSONSerialization.data(withJSONObject: operations), as: UTF8.self)

            let (sequential, indexed) = try await PostgresBackend.sharedClient().withConnection { connection in
                let logger = Logger(label: "redml.test.plans")
                // Scans this session made and has not yet reported, so the difference across
                // the call is the call's own, whatever the connection did before.
                func scans() async throws -> (Int64, Int64) {
                    var counts = (Int64(0), Int64(0))
                    for try await (seq, idx) in try await connection.query(
                        """
                        SELECT coalesce(sum(seq_scan), 0)::bigint, coalesce(sum(idx_scan), 0)::bigint
                        FROM pg_stat_xact_user_tables
                        WHERE schemaname = \(schema) AND relname IN ('ml_kv_rest', 'ml_kv_live')
                        """, logger: logger
                    ).decode((Int64, Int64).self) {
                        counts = (seq, idx)
                    }
                    return counts
                }
                _ = try await connection.query("BEGIN", logger: logger)
                let before = try await scans()
                _ = try await connection.query("SELECT \(unescaped: quoted).ml_apply(\(json)::jsonb)", logger: logger)
                let after = try await scans()
                _ = try await connection.query("ROLLBACK", logger: logger)
                return (after.0 - before.0, after.1 - before.1)
            }
            #expect(sequential == 0, "ml_apply scanned ml_kv \(sequential) times")
            #expect(indexed >= 40, "ml_apply looked up \(indexed) rows by index, for forty operations")
        }
    }
}
