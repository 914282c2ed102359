import GRDB
import RedMLPersistence

/// The statements that write entries, shared by plain writes and batches.
enum SQLiteStatements {
    static func upsert(_ db: Database, _ namespace: String, _ key: String, _ value: String, revision: Int64) throws {
        try upsert(upsertStatement(db), namespace, key, value, revision: revision)
    }

    /// The insert-or-replace statement, for callers that run it many times.
    static func upsertStatement(_ db: Database) throws -> Statement {
        try db.cachedStatement(
            sql: """
                INSERT INTO ml_kv (namespace, key, value, revision) VALUES (?, ?, ?, ?)
                ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, revision = excluded.revision
                """)
    }

    static func upsert(_ statement: Statement, _ namespace: String, _ key: String, _ value: String, revision: Int64)
        throws
    {
        // The SQL is ours and its four parameters are always bound, so GRDB's argument check is skipped.
        statement.setUncheckedArguments([namespace, key, value, revision])
        try statement.execute()
    }

    static func delete(_ db: Database, _ namespace: String, _ key: String) throws {
        let statement = try db.cachedStatement(sql: "DELETE FROM ml_kv WHERE namespace = ? AND key = ?")
        try statement.execute(arguments: [namespace, key])
    }

    /// Inserts the entry unless the key is there; `changesCount` tells which.
    static func insertIfAbsent(
        _ db: Database, _ namespace: String, _ key: String, _ value: String, revision: Int64
    ) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO ml_kv (namespace, key, value, revision) VALUES (?, ?, ?, ?)
            ON CONFLICT (namespace, key) DO NOTHING
            """)
        statement.setUncheckedArguments([namespace, key, value, revision])
        try statement.execute()
    }

    /// Replaces the value of an existing entry, at `ifRevision` if given; `changesCount` tells whether it did.
    static func update(
        _ db: Database, _ namespace: String, _ key: String, _ value: String, revision: Int64, ifRevision: Int64?
    ) throws {
        if let ifRevision {
            let statement = try db.cachedStatement(
                sql: "UPDATE ml_kv SET value = ?, revision = ? WHERE namespace = ? AND key = ? AND revision = ?")
            statement.setUncheckedArguments([value, revision, namespace, key, ifRevision])
            try statement.execute()
        } else {
            let statement = try db.cachedStatement(
                sql: "UPDATE ml_kv SET value = ?, revision = ? WHERE namespace = ? AND key = ?")
            statement.setUncheckedArguments([value, revision, namespace, key])
            try statement.execute()
        }
    }

    /// Deletes the entry if it is at `revision`; `changesCount` tells whether it was.
    static func delete(_ db: Database, _ namespace: String, _ key: String, ifRevision revision: Int64) throws {
        let statement = try db.cachedStatement(sql: "DELETE FROM ml_kv WHERE namespace = ? AND key = ? AND revision = ?")
        statement.setUncheckedArguments([namespace, key, revision])
        try statement.execute()
    }

    /// The store's revision counter: the highest revision any process has reserved.
    static func currentRevision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT revision FROM ml_state WHERE id = 1")) ?? 0
    }

    static func revision(_ db: Database, _ namespace: String, _ key: String) throws -> Int64? {
        let statement = try db.cachedStatement(sql: "SELECT revision FROM ml_kv WHERE namespace = ? AND key = ?")
        return try Int64.fetchOne(statement, arguments: [namespace, key])
    }
}

/// The SQL for one page request: a range scan of the primary key.
struct SQLitePageQuery {
    let sql: String
    let arguments: StatementArguments

    init(namespace: String, request: MLPageRequest) {
        var conditions = ["namespace = ?"]
        var values: [any DatabaseValueConvertible] = [namespace]
        if let prefix = request.prefix, !prefix.isEmpty {
            conditions.append("key >= ?")
            values.append(prefix)
            if let upper = MLKeyOrder.successor(ofPrefix: prefix) {
                conditions.append("key < ?")
                values.append(upper)
            }
        }
        if let after = request.after {
            conditions.append(request.order.isDescending ? "key < ?" : "key > ?")
            values.append(after)
        }
        sql = """
            SELECT key, CAST(value AS BLOB), revision FROM ml_kv WHERE \(conditions.joined(separator: " AND ")) \
            ORDER BY key \(request.order.isDescending ? "DESC" : "ASC")
            """
        arguments = StatementArguments(values)
    }
}
