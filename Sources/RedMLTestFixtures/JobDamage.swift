import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTesting

/// Damage to a job's stored record behind the queue's back (a hand edit, a
/// record restored alone), on whichever backend a test runs: the key-value
/// entry `jobs/<id>`, or on PostgreSQL the job's row of `ml_job`.
package enum JobDamage {
    /// Replaces the stored record of job `id` in `store` with `record`, as is.
    package static func replaceRecord(of id: UInt128, in store: any MLStore, with record: String) async throws {
        let key = MLKey.job(id)
        guard let postgres = store as? PostgresMLPersistence else {
            try await store.put(namespace: MLNamespace.jobs, key: key, value: record)
            return
        }
        var query = PostgresQuery(unsafeSQL: "UPDATE \"\(postgres.schema)\".ml_job SET record = $1 WHERE key = $2 RETURNING key")
        query.binds.append(record)
        query.binds.append(key)
        var changed = 0
        for try await _ in try await PostgresBackend.sharedClient().query(query) { changed += 1 }
        guard changed == 1 else { throw MLConformanceFailure("no row of ml_job for job \(key) to damage") }
    }

    /// The stored record of job `id`, as is (`nil` when there is none), read past the queue,
    /// which names a damaged job rather than showing its record.
    package static func storedRecord(of id: UInt128, in store: any MLStore) async throws -> String? {
        if let table = store as? any MLJobTableStore { return try await table.jobRecord(key: MLKey.job(id))?.record }
        return try await store.get(namespace: MLNamespace.jobs, key: MLKey.job(id))
    }
}
