/// Checks and applies an ``MLBatch`` to in-memory state.
///
/// Validation runs first over an overlay of the batch's own earlier writes, so
/// that applying cannot fail halfway and no undo is needed.
enum InMemoryBatch {
    private struct Slot: Hashable {
        let namespace: ByteKey
        let key: ByteKey

        init(namespace: String, key: String) {
            self.namespace = ByteKey(namespace)
            self.key = ByteKey(key)
        }
    }

    /// Checks every operation's input (``MLInput``) and condition, in order.
    static func validate(_ batch: MLBatch, against state: inout InMemoryState) throws {
        let operations = batch.operations
        let pendingRevision: Int64 = state.revision + 1
        // What the batch itself has written before an operation: a revision, or nil once
        // deleted. A registration or a job transition writes a handful of keys, each once,
        // so a short batch looks back over the fingerprints of its earlier writes (reading an
        // earlier operation's strings only when one matches) instead of hashing every key.
        var overlay: [Slot: Int64?] = [:]
        let hashed = operations.count > Self.linearOverlayLimit
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: hashed ? 0 : operations.count) { prints in
            func written(before index: Int, _ namespace: String, _ key: String, _ print: UInt64) -> Int64?? {
                if hashed { return overlay[Slot(namespace: namespace, key: key)] }
                for earlier in stride(from: index - 1, through: 0, by: -1) where prints[earlier] == print {
                    switch operations[earlier] {
                    case .put(let ns, let k, _, _) where same(k, key) && same(ns, namespace): return .some(pendingRevision)
                    case .delete(let ns, let k, _) where same(k, key) && same(ns, namespace): return .some(nil)
                    default: continue
                    }
                }
                return nil
            }
            func check(_ index: Int, _ namespace: String, _ key: String, _ print: UInt64, _ condition: MLCondition) throws {
                let current: Int64? = written(before: index, namespace, key, print) ?? state.storedRevision(namespace, key)
                guard condition.isSatisfied(by: current.map(MLRevision.init(rawValue:))) else {
                    throw MLPersistenceError.conflict(
                        namespace: namespace, key: key, expected: condition,
                        found: current.map(MLRevision.init(rawValue:)))
                }
            }
            func remember(_ index: Int, _ namespace: String, _ key: String, _ print: UInt64, _ revision: Int64?) {
                if hashed { overlay[Slot(namespace: namespace, key: key)] = .some(revision) } else { prints[index] = print }
            }
            var committing: Set<Int64> = []
            for index in operations.indices {
                if !hashed { prints[index] = 0 }  // not a write, until one says otherwise
                switch operations[index] {
                case .put(let namespace, let key, let value, let condition):
                    try MLInput.check(namespace: namespace, key: key)
                    try MLInput.check(value, "value")
                    let print = fingerprint(namespace, key)
                    try check(index, namespace, key, print, condition)
                    remember(index, namespace, key, print, pendingRevision)
                case .delete(let namespace, let key, let condition):
                    try MLInput.check(namespace: namespace, key: key)
                    let print = fingerprint(namespace, key)
                    try check(index, namespace, key, print, condition)
                    remember(index, namespace, key, print, nil)
                case .require(let namespace, let key, let condition):
                    try MLInput.check(namespace: namespace, key: key)
                    try check(index, namespace, key, fingerprint(namespace, key), condition)
                case .commitBlob(let blob):
                    guard let upload = state.uploads[blob.upload.rawValue], upload.sealed == blob,
                        committing.insert(blob.upload.rawValue).inserted
                    else {
                        throw MLPersistenceError.invalidArgument(
                            "\(blob.upload) is not a finished, uncommitted upload of blob \(blob.sha256)")
                    }
                case .deleteBlob:
                    break
                }
            }
        }
    }

    /// By bytes, as everywhere in this store: `==` on strings is canonical equivalence.
    private static func same(_ a: String, _ b: String) -> Bool { b.withUTF8Bytes { a.hasBytes($0) } }

    /// A cheap summary of a namespace and key, never 0: equal keys have equal
    /// fingerprints, so only a match needs the strings compared.
    private static func fingerprint(_ namespace: String, _ key: String) -> UInt64 {
        1 << 63 | UInt64(truncatingIfNeeded: namespace.utf8.count) << 40 | UInt64(truncatingIfNeeded: key.utf8.count) << 16
            | UInt64(key.utf8.last ?? 0) << 8 | UInt64(key.utf8.first ?? 0)
    }

    /// Batches up to this many operations look back over their own earlier
    /// writes; longer ones keep them in a hash table.
    static let linearOverlayLimit = 16

    static func apply(_ batch: MLBatch, to state: inout InMemoryState, revision: Int64) {
        for operation in batch.operations {
            switch operation {
            case .put(let namespace, let key, let value, _):
                state.put(namespace, key, value, revision: revision)
            case .delete(let namespace, let key, _):
                state.delete(namespace, key)
            case .require:
                break
            case .commitBlob(let blob):
                guard let upload = state.uploads.removeValue(forKey: blob.upload.rawValue) else { continue }
                // Identical bytes are stored once: the new copy takes the old one's place, which
                // repairs a copy damaged behind the store's back.
                state.blobs[BlobKey(blob.sha256)] = InMemoryState.Blob(
                    info: MLBlobInfo(sha256: blob.sha256, size: blob.size, chunkCount: blob.chunkCount),
                    chunks: upload.chunks)
            case .deleteBlob(let sha256):
                state.blobs[BlobKey(sha256)] = nil
            }
        }
    }
}
