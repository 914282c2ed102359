extension InMemoryMLPersistence: MLIndexClaiming {
    /// Picks and commits under the store's one lock, so concurrent claimers
    /// never race for the same first entries (each waits for the lock and then
    /// sees what the one before took). `body` runs under the lock: it must not
    /// call back into this store.
    public func claim<T: Sendable>(
        namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        let limit = try MLInput.checkClaim(
            namespace: namespace, recordNamespace: recordNamespace, after: after, limit: limit)
        return try state.withLock { state in
            let candidates = state.claimCandidates(
                namespace, prefix: prefix, after: after, limit: limit, recordNamespace: recordNamespace)
            let (batch, result) = try body(candidates)
            guard !batch.isEmpty else { return (MLRevision(rawValue: state.revision), result) }
            try InMemoryBatch.validate(batch, against: &state)
            let revision = state.nextRevision()
            InMemoryBatch.apply(batch, to: &state, revision: revision)
            state.changeCount += 1
            return (MLRevision(rawValue: revision), result)
        }
    }
}

extension InMemoryState {
    /// The first `limit` entries of `namespace` under `prefix` (after `after`,
    /// when given), in key order, whose value names a record of `recordNamespace`.
    mutating func claimCandidates(
        _ namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String
    ) -> [MLClaimCandidate] {
        guard let space = indexedNamespace(namespace) else { return [] }
        let index = space.index
        var place = index.lowerBound(prefix)
        if let after { place = max(place, index.upperBound(after)) }
        var candidates: [MLClaimCandidate] = []
        while candidates.count < limit, place < index.end {
            let key = index.key(at: place)
            guard key.utf8.starts(with: prefix.utf8) else { break }  // past the prefix: keys are in order
            place = index.place(after: place)
            guard let entry = space.stored(key), let record = current(recordNamespace, entry.value) else {
                continue  // an entry whose record is gone is not a candidate
            }
            candidates.append(MLClaimCandidate(
                entry: MLEntry(key: key, value: entry.value, revision: MLRevision(rawValue: entry.revision)),
                record: MLEntry(key: entry.value, value: record.value, revision: MLRevision(rawValue: record.revision))))
        }
        return candidates
    }
}
