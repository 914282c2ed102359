import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// The operator views (ml_jobs, ml_model_versions, ml_models), read with SQL as psql would.
@Suite("PostgreSQL operator views", .needsPostgres)
struct ViewTests {
    @Test("ml_jobs, ml_model_versions and ml_models show the JSON fields, and flag non-JSON as corrupt")
    func views() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let running = MLKey.job(1)
            let queued = MLKey.job(2)
            let broken = MLKey.job(3)
            // Jobs live in the job table (the queue writes them there); the view reads their records.
            func job(_ key: String, _ status: String, _ record: String) -> MLNewJob {
                MLNewJob(
                    row: MLJobRow(key: key, queue: "default", kind: "train", status: status, priority: 0, runAtMs: 0,
                                  ready: false, leaseExpiresAtMs: nil, finishedAtMs: nil, uniqueKey: nil, record: record),
                    event: MLJobEventRow(key: key, sequence: 1, record: "{}"))
            }
            _ = try await store.insertJobs([
                job(running, "running",
                    #"{"id":"\#(running)","kind":"train","target":"iris","status":"running","progress":40,"created_at_ms":1700000000000}"#),
                job(queued, "queued",
                    #"{"id":"\#(queued)","kind":"evaluate","target":"iris@v3","status":"queued","progress":"x","note":"\u0000"}"#),
                job(broken, "queued", "this is not JSON {"),
            ], notifying: nil)
            let sha = String(repeating: "ab", count: 32)
            let versionKey = MLKey.modelVersion("iris", 3)
            try await store.put(
                namespace: MLNamespace.modelVersions, key: versionKey,
                value: #"{"model":"iris","version":3,"archived":false,"weights_sha256":"\#(sha)","weights_size":1234,"created_at_ms":1700000000000,"metrics":{"accuracy":0.9}}"#
            )
            try await store.put(
                namespace: MLNamespace.models, key: MLKey.model("iris"),
                value: #"{"name":"iris","active_version":3,"latest_version":3,"description":"Iris classifier","created_at_ms":1700000000000}"#
            )
            // Entries of other namespaces never appear in the views.
            try await store.put(namespace: "other", key: running, value: #"{"kind":"decoy"}"#)

            let utc = "'YYYY-MM-DD HH24:MI:SS'"
            let jobs = try await Scratch.textRows(
                """
                SELECT id, kind, status, progress::text, to_char(created_at AT TIME ZONE 'UTC', \(unescaped: utc)),
                       corrupt::text
                FROM \(unescaped: schema).ml_jobs ORDER BY id
                """, columns: 6)
            #expect(
                jobs == [
                    "\(running)|train|running|40|2023-11-14 22:13:20|false",
                    // A field of the wrong type reads as NULL; JSON's \u0000 does not make a record corrupt.
                    "\(queued)|evaluate|queued|||false",
                    "\(broken)|||||true",
                ])

            let entry = try #require(try await store.jobRecord(key: running))
            let revision = try await Scratch.textRows(
                "SELECT revision::text FROM \(unescaped: schema).ml_jobs WHERE id = \(running)", columns: 1)
            #expect(revision == ["\(entry.revision.rawValue)"])

            let versions = try await Scratch.textRows(
                """
                SELECT model, version::text, archived::text, weights_sha256, weights_size::text,
                       to_char(created_at AT TIME ZONE 'UTC', \(unescaped: utc)), key, (metrics ->> 'accuracy'),
                       corrupt::text
                FROM \(unescaped: schema).ml_model_versions
                """, columns: 9)
            #expect(versions == ["iris|3|false|\(sha)|1234|2023-11-14 22:13:20|\(versionKey)|0.9|false"])

            let models = try await Scratch.textRows(
                """
                SELECT name, active_version::text, latest_version::text, description, corrupt::text
                FROM \(unescaped: schema).ml_models
                """, columns: 5)
            #expect(models == ["\(MLKey.model("iris"))|3|3|Iris classifier|false"])
        }
    }
}
