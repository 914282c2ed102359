import Foundation
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
    /// Whether ``applyInOneStatement(_:_:_:)`` can apply `batch`: entries only
    /// (no blobs), and few enough operations that a run of puts is not better
    /// served by multi-row inserts.
    static func fitsOneStatement(_ batch: MLBatch) -> Bool {
        batch.operations.count <= 256 && batch.operations.allSatisfy { operation in
            switch operation {
            case .put, .delete, .require: true
            case .commitBlob, .deleteBlob: false
            }
        }
    }

    /// One operation as `ml_apply` reads it.
    private struct EncodedOperation: Encodable {
        let o: String
        let n: String
        let k: String
        let v: String?
        let c: String
        let r: Int64?
    }

    /// Applies `batch` with one call of the schema's `ml_apply` function: one
    /// round trip, where ``apply(_:_:_:)`` takes two per conditional operation.
    ///
    /// - Parameter notification: a `pg_notify` sent in the same statement, so
    ///   that it is delivered when (and only if) the statement's transaction commits.
    static func applyInOneStatement(
        _ batch: MLBatch, _ sql: PostgresSQL, _ tables: PostgresTables,
        notifying notification: (channel: String, payload: String)? = nil
    ) async throws -> Int64 {
        let operations = batch.operations
        let encoded = operations.map { operation -> EncodedOperation in
            func condition(_ condition: MLCondition) -> (String, Int64?) {
                switch condition.requirement {
                case .none: ("none", nil)
                case .absent: ("absent", nil)
                case .present: ("present", nil)
                case .revision(let revision): ("revision", revision.rawValue)
                }
            }
            switch operation {
            case .put(let namespace, let key, let value, let requirement):
                let (c, r) = condition(requirement)
                return EncodedOperation(o: "put", n: namespace, k: key, v: value, c: c, r: r)
            case .delete(let namespace, let key, let requirement):
                let (c, r) = condition(requirement)
                return EncodedOperation(o: "delete", n: namespace, k: key, v: nil, c: c, r: r)
            case .require(let namespace, let key, let requirement):
                let (c, r) = condition(requirement)
                return EncodedOperation(o: "require", n: namespace, k: key, v: nil, c: c, r: r)
            case .commitBlob, .deleteBlob:
                preconditionFailure("fitsOneStatement admits no blob operation")
            }
        }
        let json = String(decoding: try JSONEncoder().encode(encoded), as: UTF8.self)
        let query: PostgresQuery =
            if let notification {
                // A materialized CTE runs exactly once; the notification waits for the commit.
                """
                WITH notified AS MATERIALIZED (SELECT pg_notify(\(notification.channel), \(notification.payload)))
                SELECT \(unescaped: tables.quotedSchema).ml_apply(\(json)::jsonb) FROM notified
                """
            } else {
                "SELECT \(unescaped: tables.quotedSchema).ml_apply(\(json)::jsonb)"
            }
        do {
            guard let revision = try await sql.one(query, as: Int64.self)
            else { throw MLPersistenceError.backend("ml_apply returned no revision") }
            return revision
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "RMLC1" {
            throw conflict(from: error, operations)
        }
    }

    /// The conflict that `ml_apply` reported, naming the operation whose condition failed.
    private static func conflict(from error: PSQLError, _ operations: [MLBatch.Operation]) -> MLPersistenceError {
        struct Report: Decodable {
            let index: Int
            let found: Int64?
        }
        guard let message = error.serverInfo?[.message],
            let report = try? JSONDecoder().decode(Report.self, from: Data(message.utf8)),
            operations.indices.contains(report.index)
        else {
            return .backend("ml_apply reported a conflict it did not describe: \(error.serverInfo?[.message] ?? "")")
        }
        let found = report.found.map(MLRevision.init(rawValue:))
        switch operations[report.index] {
        case .put(let namespace, let key, _, let condition), .delete(let namespace, let key, let condition),
            .require(let namespace, let key, let condition):
            return .conflict(namespace: namespace, key: key, expected: condition, found: found)
        case .commitBlob, .deleteBlob:
            return .backend("ml_apply reported a conflict on a blob operation")
        }
    }

    static func apply(_ batch: MLBatch, _ sql: PostgresSQL, _ tables: PostgresTables) async throws -> Int64 {
        if fitsOneStatement(batch) { return try await applyInOneStatement(batch, sql, tables) }
        guard let revision = try await sql.one("SELECT \(unescaped: tables.nextRevision)", as: Int64.self) else {
            throw MLPersistenceError.backend("the revision sequence \(tables.revisionSequence) returned no value")
        }
        let operations = batch.operations
        var next = 0
        while next < operations.count {
            // Runs of plain puts (a submission of many jobs) go in as one multi-row INSERT each,
            // and so does a lone put-if-absent: ON CONFLICT DO NOTHING waits for another
            // transaction's uncommitted insert, which a check in READ COMMITTED can neither
            // see nor lock (a check-then-upsert would then overwrite it).
            let run = Self.insertRun(operations, from: next)
            if run.count >= 2 || run.first?.absent == true {
                try await insert(run, revision: revision, sql, tables)
                next += run.count
                continue
            }
            let operation = operations[next]
            next += 1
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

    /// A put that a multi-row INSERT can apply.
    private struct RunPut {
        let namespace: String
        let key: String
        let value: String
        /// Whether the key must be absent (otherwise anything goes).
        let absent: Bool
    }

    /// The puts from `start` on that are unconditional or put-if-absent and
    /// name distinct keys, so that applying them in one statement gives what
    /// applying them in turn would.
    private static func insertRun(_ operations: [MLBatch.Operation], from start: Int) -> [RunPut] {
        var run: [RunPut] = []
        var keys = Set<[String]>()
        for operation in operations[start...] {
            guard case .put(let namespace, let key, let value, let condition) = operation else { break }
            let absent: Bool
            switch condition.requirement {
            case .none: absent = false
            case .absent: absent = true
            default: return run
            }
            guard keys.insert([namespace, key]).inserted else { break }
            run.append(RunPut(namespace: namespace, key: key, value: value, absent: absent))
        }
        return run
    }

    /// Inserts a run: put-if-absent rows with `ON CONFLICT DO NOTHING`, and a
    /// conflict for the first one that was present; the others as upserts.
    private static func insert(_ run: [RunPut], revision: Int64, _ sql: PostgresSQL, _ tables: PostgresTables) async throws {
        let absent = run.filter(\.absent)
        if !absent.isEmpty {
            var query = PostgresQuery(unsafeSQL: """
                INSERT INTO \(tables.kv) (namespace, key, value, revision)
                SELECT n, k, v, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(n, k, v)
                ON CONFLICT (namespace, key) DO NOTHING RETURNING namespace, key
                """)
            query.binds.append(absent.map(\.namespace))
            query.binds.append(absent.map(\.key))
            query.binds.append(absent.map(\.value))
            query.binds.append(revision)
            let inserted = try await sql.rows(query)
            if inserted.count < absent.count {
                var written = Set<[String]>()
                for row in inserted {
                    let (namespace, key) = try row.decode((String, String).self)
                    written.insert([namespace, key])
                }
                let first = absent.first { !written.contains([$0.namespace, $0.key]) }!
                let found = try await sql.one(
                    "SELECT revision FROM \(unescaped: tables.kv) WHERE namespace = \(first.namespace) AND key = \(first.key)",
                    as: Int64.self
                ).map(MLRevision.init(rawValue:))
                throw MLPersistenceError.conflict(namespace: first.namespace, key: first.key, expected: .absent, found: found)
            }
        }
        let plain = run.filter { !$0.absent }
        if !plain.isEmpty {
            var query = PostgresQuery(unsafeSQL: """
                INSERT INTO \(tables.kv) (namespace, key, value, revision)
                SELECT n, k, v, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(n, k, v)
                ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, revision = excluded.revision
                """)
            query.binds.append(plain.map(\.namespace))
            query.binds.append(plain.map(\.key))
            query.binds.append(plain.map(\.value))
            query.binds.append(revision)
            try await sql.execute(query)
        }
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
