extension InMemoryMLPersistence: MLIndexClaiming {
    /// Picks under the store's lock, runs `body` outside it, and commits under
    /// it again, so that concurrent claimers build their batches side by side.
    ///
    /// Picked entries are reserved until the commit: other claims skip them,
    /// as PostgreSQL's `SKIP LOCKED` skips rows, so concurrent claimers take
    /// different entries instead of racing for the first. A write that changes
    /// a picked entry or record in the meantime (a cancel, say) is not held
    /// back; the claim sees it at its commit and picks again, running `body`
    /// again, as the protocol allows.
    ///
    /// A pick that comes up short after passing over reserved entries waits
    /// for them and picks again, so that a short claim still means nothing
    /// more is ready: a claim that holds them may yet leave them (a worker
    /// pool passing over kinds it does not run), and a caller told that
    /// nothing is ready would go idle. Bodies are short, so the wait is too.
    public func claim<T: Sendable>(
        namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        let limit = try MLInput.checkClaim(
            namespace: namespace, recordNamespace: recordNamespace, after: after, limit: limit)
        while true {
            let (candidates, passedOver) = state.withLock { state in
                state.pickAndReserve(
                    namespace, prefix: prefix, after: after, limit: limit, recordNamespace: recordNamespace)
            }
            if candidates.count < limit, !passedOver.isEmpty {
                // Give back what was picked while waiting: two short claims could each hold what the other waits for.
                state.withLock { $0.release(namespace, candidates) }
                await waitUntilReleased(namespace, passedOver)
                continue
            }
            let built: (batch: MLBatch, result: T)
            do {
                built = try body(candidates)
            } catch {
                state.withLock { $0.release(namespace, candidates) }
                throw error
            }
            let committed: MLRevision? = try state.withLock { state in
                state.release(namespace, candidates)
                guard state.unchanged(candidates, namespace: namespace, recordNamespace: recordNamespace) else {
                    return nil
                }
                guard !built.batch.isEmpty else { return MLRevision(rawValue: state.revision) }
                try InMemoryBatch.validate(built.batch, against: &state)
                let revision = state.nextRevision()
                InMemoryBatch.apply(built.batch, to: &state, revision: revision)
                state.changeCount += 1
                return MLRevision(rawValue: revision)
            }
            if let committed { return (committed, built.result) }
        }
    }
}

extension InMemoryMLPersistence {
    /// Returns once no claim holds any of `keys` of `namespace`.
    private func waitUntilReleased(_ namespace: String, _ keys: [String]) async {
        while state.withLock({ state in keys.contains { state.isReserved(namespace, $0) } }) {
            await Task.yield()
        }
    }
}

/// An index entry that a claim in flight picked.
struct ReservedEntry: Hashable {
    let namespace: ByteKey
    let key: ByteKey

    init(_ namespace: String, _ key: String) {
        self.namespace = ByteKey(namespace)
        self.key = ByteKey(key)
    }
}

extension InMemoryState {
    /// The first `limit` entries of `namespace` under `prefix` (after `after`,
    /// when given), in key order, whose value names a record of
    /// `recordNamespace` and which no other claim in flight holds; reserved
    /// for this claim until ``release(_:_:)``. `passedOver` are the entries
    /// skipped because another claim holds them.
    mutating func pickAndReserve(
        _ namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String
    ) -> (candidates: [MLClaimCandidate], passedOver: [String]) {
        guard let space = indexedNamespace(namespace) else { return ([], []) }
        let index = space.index
        var place = index.lowerBound(prefix)
        if let after { place = max(place, index.upperBound(after)) }
        var candidates: [MLClaimCandidate] = []
        var passedOver: [String] = []
        while candidates.count < limit, place < index.end {
            let key = index.key(at: place)
            guard key.hasUTF8Prefix(prefix) else { break }  // past the prefix: keys are in order
            place = index.place(after: place)
            if !claimReservations.isEmpty, isReserved(namespace, key) {
                passedOver.append(key)
                continue
            }
            guard let entry = space.stored(key), let record = current(recordNamespace, entry.value) else {
                continue  // an entry whose record is gone is not a candidate
            }
            candidates.append(MLClaimCandidate(
                entry: MLEntry(key: key, value: entry.value, revision: MLRevision(rawValue: entry.revision)),
                record: MLEntry(key: entry.value, value: record.value, revision: MLRevision(rawValue: record.revision))))
        }
        for candidate in candidates { claimReservations.insert(ReservedEntry(namespace, candidate.entry.key)) }
        return (candidates, passedOver)
    }

    /// Whether a claim in flight holds the entry `key` of `namespace`.
    func isReserved(_ namespace: String, _ key: String) -> Bool {
        claimReservations.contains(ReservedEntry(namespace, key))
    }

    /// Gives up the reservations ``pickAndReserve(_:prefix:after:limit:recordNamespace:)`` made.
    mutating func release(_ namespace: String, _ candidates: [MLClaimCandidate]) {
        for candidate in candidates { claimReservations.remove(ReservedEntry(namespace, candidate.entry.key)) }
    }

    /// Whether every candidate's entry and record still hold what was picked.
    mutating func unchanged(_ candidates: [MLClaimCandidate], namespace: String, recordNamespace: String) -> Bool {
        candidates.allSatisfy { candidate in
            storedRevision(namespace, candidate.entry.key) == candidate.entry.revision.rawValue
                && storedRevision(recordNamespace, candidate.record.key) == candidate.record.revision.rawValue
        }
    }
}
