import GRDB
import RedMLPersistence

extension SQLiteMLPersistence: MLIndexClaiming {
    /// Picks the entries and commits the batch built from them in one write
    /// transaction (shared with concurrent writes, in its own savepoint).
    ///
    /// SQLite runs one write transaction at a time, so no other claimer can
    /// take the entries between the pick and the commit: a claim needs no
    /// reads beforehand and never loses a race. The writer's connection also
    /// keeps its page cache across commits, where a reader's is dropped after
    /// every write, so picking here is cheaper than a read on a reader. The
    /// batch's own conditions are still checked.
    public func claim<T: Sendable>(
        namespace: String, prefix: String, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        try MLInput.checkClaim(namespace: namespace, recordNamespace: recordNamespace, limit: limit)
        let limit = min(limit, 10_000)
        let query = SQLitePageQuery(namespace: namespace, request: MLPageRequest(prefix: prefix, limit: limit))
        let (revision, result) = try await write { context -> (Int64, T) in
            let candidates = try self.candidates(
                context.db, query, namespace: namespace, limit: limit, recordNamespace: recordNamespace)
            let (batch, result) = try body(candidates)
            // An empty batch returns what an empty commit does, read here rather than on a reader afterwards.
            guard !batch.isEmpty else { return (try SQLiteStatements.currentRevision(context.db), result) }
            try MLInput.check(batch)
            return (try SQLiteBatch.apply(batch, in: &context), result)
        }
        return (MLRevision(rawValue: revision), result)
    }

    /// The first `limit` entries `query` finds whose record exists. An entry
    /// or record that is not UTF-8 comes with its corruption and an empty
    /// value, so the caller can drop the entry instead of meeting it again.
    private func candidates(
        _ db: Database, _ query: SQLitePageQuery, namespace: String, limit: Int, recordNamespace: String
    ) throws -> [MLClaimCandidate] {
        let entries = try Row.fetchCursor(db.cachedStatement(sql: query.sql), arguments: query.arguments)
        let records = try db.cachedStatement(
            sql: "SELECT CAST(value AS BLOB), revision FROM ml_kv WHERE namespace = ? AND key = ?")
        var candidates: [MLClaimCandidate] = []
        while candidates.count < limit, let row = try entries.next() {
            let key: String = row[0]
            let entryRevision = MLRevision(rawValue: row[2])
            let value: String
            do {
                value = try Self.text(row[1], namespace: namespace, key: key)
            } catch {
                // No record key to look up: the entry comes alone, with its corruption.
                candidates.append(MLClaimCandidate(
                    entry: MLEntry(key: key, value: "", revision: entryRevision),
                    record: MLEntry(key: "", value: "", revision: MLRevision(rawValue: 0)), corruption: error))
                continue
            }
            guard let record = try Row.fetchOne(records, arguments: [recordNamespace, value]) else { continue }
            var recordValue = ""
            var corruption: MLPersistenceError?
            do {
                recordValue = try Self.text(record[0], namespace: recordNamespace, key: value)
            } catch {
                corruption = error
            }
            candidates.append(MLClaimCandidate(
                entry: MLEntry(key: key, value: value, revision: entryRevision),
                record: MLEntry(key: value, value: recordValue, revision: MLRevision(rawValue: record[1])),
                corruption: corruption))
        }
        return candidates
    }
}
