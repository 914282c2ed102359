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
        namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        let limit = try MLInput.checkClaim(namespace: namespace, recordNamespace: recordNamespace, after: after, limit: limit)
        let query = Self.candidateQuery(namespace: namespace, prefix: prefix, after: after, recordNamespace: recordNamespace)
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

    /// The entries under `prefix`, in key order, each with its record (or
    /// NULLs where the record is missing): one statement, where a lookup per
    /// entry cost a statement each.
    private static func candidateQuery(
        namespace: String, prefix: String, after: String?, recordNamespace: String
    ) -> (sql: String, arguments: StatementArguments) {
        // Past the cursor, or from the start of the prefix when the cursor is before it.
        let start = after.map { !MLKeyOrder.less($0, prefix) } == true
        var sql = """
            SELECT i.key, CAST(i.value AS BLOB), i.revision, CAST(r.value AS BLOB), r.revision
            FROM ml_kv i LEFT JOIN ml_kv r ON r.namespace = ? AND r.key = i.value
            WHERE i.namespace = ? AND i.key \(start ? ">" : ">=") ?
            """
        var arguments: StatementArguments = [recordNamespace, namespace, start ? after! : prefix]
        if let upper = MLKeyOrder.successor(ofPrefix: prefix) {
            sql += " AND i.key < ?"
            arguments += [upper]
        }
        return (sql + " ORDER BY i.key", arguments)
    }

    /// The first `limit` entries `query` finds whose record exists. An entry
    /// or record that is not UTF-8 comes with its corruption and an empty
    /// value, so the caller can drop the entry instead of meeting it again.
    private func candidates(
        _ db: Database, _ query: (sql: String, arguments: StatementArguments), namespace: String, limit: Int,
        recordNamespace: String
    ) throws -> [MLClaimCandidate] {
        let rows = try Row.fetchCursor(db.cachedStatement(sql: query.sql), arguments: query.arguments)
        var candidates: [MLClaimCandidate] = []
        while candidates.count < limit, let row = try rows.next() {
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
            guard let recordRevision: Int64 = row[4] else { continue }  // no record: not picked
            var recordValue = ""
            var corruption: MLPersistenceError?
            do {
                recordValue = try Self.text(row[3], namespace: recordNamespace, key: value)
            } catch {
                corruption = error
            }
            candidates.append(MLClaimCandidate(
                entry: MLEntry(key: key, value: value, revision: entryRevision),
                record: MLEntry(key: value, value: recordValue, revision: MLRevision(rawValue: recordRevision)),
                corruption: corruption))
        }
        return candidates
    }
}
