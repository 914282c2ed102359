import PostgresNIO
import RedMLPersistence

/// Applies an ``MLBatch`` inside one `SERIALIZABLE` transaction.
///
/// Conditions are checked in the transaction against the state the batch's
/// earlier operations left, with the row locked, so the check and the write
/// cannot be separated by another writer; a concurrent transaction that
/// slips in anyway makes this one fail with a serialization failure, and the
/// caller runs it again from the start.
enum PostgresBatch {
    static func apply(_ batch: MLBatch, _ sql: PostgresSQL, _ tables: PostgresTables) async throws -> Int64 {
        guard let revision = try await sql.one("SELECT \(unescaped: tables.nextRevision)", as: Int64.self) else {
            throw MLPersistenceError.backend("the revision sequence \(tables.revisionSequence) returned no value")
        }
        for operation in batch.operations {
            switch operation {
            case .put(let namespace, let key, let value, let condition):
                try await check(sql, tables, namespace, key, condition, lock: "FOR UPDATE")
                try await sql.execute(
                    """
                    INSERT INTO \(unescaped: tables.kv) (namespace, key, value, revision)
                    VALUES (\(namespace), \(key), \(value), \(revision))
                    ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, revision = excluded.revision
                    """)
            case .delete(let namespace, let key, let condition):
                try await check(sql, tables, namespace, key, condition, lock: "FOR UPDATE")
                try await sql.execute(
                    "DELETE FROM \(unescaped: tables.kv) WHERE namespace = \(namespace) AND key = \(key)")
            case .require(let namespace, let key, let condition):
                try await check(sql, tables, namespace, key, condition, lock: "FOR SHARE")
            case .commitBlob(let blob):
                try await PostgresBlobs.commit(blob, sql, tables)
            case .deleteBlob(let sha256):
                try await PostgresBlobs.delete(sha256: sha256, sql, tables)
            }
        }
        return revision
    }

    private static func check(
        _ sql: PostgresSQL, _ tables: PostgresTables, _ namespace: String, _ key: String,
        _ condition: MLCondition, lock: String
    ) async throws {
        if case .none = condition.requirement { return }
        let current = try await sql.one(
            """
            SELECT revision FROM \(unescaped: tables.kv)
            WHERE namespace = \(namespace) AND key = \(key) \(unescaped: lock)
            """,
            as: Int64.self
        ).map(MLRevision.init(rawValue:))
        guard condition.isSatisfied(by: current) else {
            throw MLPersistenceError.conflict(namespace: namespace, key: key, expected: condition, found: current)
        }
    }
}
