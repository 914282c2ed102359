import PostgresNIO
import RedMLPersistence

extension PostgresMLPersistence {
    // MARK: The seed's contract

    /// Stores `value`, as a one-operation batch (so it takes a new revision like any write).
    public func put(namespace: String, key: String, value: String) async throws {
        var batch = MLBatch()
        batch.put(namespace: namespace, key: key, value: value)
        try await commit(batch)
    }

    public func get(namespace: String, key: String) async throws -> String? {
        try MLInput.check(namespace: namespace, key: key)
        return try await withSQL { sql in
            try await sql.one(
                "SELECT value FROM \(unescaped: self.tables.kv) WHERE namespace = \(namespace) AND key = \(key)",
                as: String.self)
        }
    }

    public func delete(namespace: String, key: String) async throws {
        var batch = MLBatch()
        batch.delete(namespace: namespace, key: key)
        try await commit(batch)
    }

    public func list(namespace: String) async throws -> [(key: String, value: String)] {
        try MLInput.check(namespace, "namespace")
        let rows = try await withSQL { sql in
            try await sql.rows("SELECT key, value FROM \(unescaped: self.tables.kv) WHERE namespace = \(namespace)")
                .map { try $0.decode((String, String).self) }
        }
        return rows.map { (key: $0.0, value: $0.1) }
    }

    // MARK: Entries, batches and pages

    public func entry(namespace: String, key: String) async throws -> MLEntry? {
        try MLInput.check(namespace: namespace, key: key)
        return try await withSQL { sql in
            guard
                let row = try await sql.rows(
                    """
                    SELECT value, revision FROM \(unescaped: self.tables.kv)
                    WHERE namespace = \(namespace) AND key = \(key)
                    """
                ).first
            else { return nil }
            let (value, revision) = try row.decode((String, Int64).self)
            return MLEntry(key: key, value: value, revision: MLRevision(rawValue: revision))
        }
    }

    @discardableResult
    public func commit(_ batch: MLBatch) async throws -> MLRevision {
        try MLInput.check(batch)
        if batch.isEmpty {
            // The sequence's last value is global: at least any revision handed out so far.
            let last = try await withSQL { sql in
                try await sql.one(
                    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM \(unescaped: self.tables.revisionSequence)",
                    as: Int64.self)
            }
            return MLRevision(rawValue: last ?? 0)
        }
        let revision = try await serializable { sql in
            try await PostgresBatch.apply(batch, sql, self.tables)
        }
        return MLRevision(rawValue: revision)
    }

    public func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage {
        try request.validate()
        try MLInput.check(namespace: namespace, request)
        let query = PostgresPageQuery(table: tables.kv, namespace: namespace, request: request)
        let entries = try await withSQL { sql in
            try await sql.rows(query.query).map { row in
                let (key, value, revision) = try row.decode((String, String, Int64).self)
                return MLEntry(key: key, value: value, revision: MLRevision(rawValue: revision))
            }
        }
        // One row past the limit was asked for: it tells whether another page follows.
        guard entries.count > request.limit else { return MLPage(entries: entries, nextCursor: nil) }
        let page = Array(entries.prefix(request.limit))
        return MLPage(entries: page, nextCursor: page.last?.key)
    }
}
