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

    static func validate(_ batch: MLBatch, against state: inout InMemoryState) throws {
        let operations = batch.operations
        let pendingRevision: Int64 = state.revision + 1
        // What the batch itself has written before `index`: a revision, or nil once deleted.
        // A registration or a job transition writes a handful of keys, each once, so
        // looking back over the earlier operations beats hashing both strings into a table.
        var overlay: [Slot: Int64?] = [:]
        let hashed = operations.count > Self.linearOverlayLimit
        func written(before index: Int, _ namespace: String, _ key: String) -> Int64?? {
            if hashed { return overlay[Slot(namespace: namespace, key: key)] }
            for earlier in stride(from: index - 1, through: 0, by: -1) {
                switch operations[earlier] {
                case .put(let ns, let k, _, _) where same(k, key) && same(ns, namespace): return .some(pendingRevision)
                case .delete(let ns, let k, _) where same(k, key) && same(ns, namespace): return .some(nil)
                default: continue
                }
            }
            return nil
        }
        // By bytes, as everywhere in this store: `==` on strings is canonical equivalence.
        func same(_ a: String, _ b: String) -> Bool { b.withUTF8Bytes { a.hasBytes($0) } }
        func check(_ index: Int, _ namespace: String, _ key: String, _ condition: MLCondition) throws {
            let current: Int64? = written(before: index, namespace, key) ?? state.storedRevision(namespace, key)
            guard condition.isSatisfied(by: current.map(MLRevision.init(rawValue:))) else {
                throw MLPersistenceError.conflict(
                    namespace: namespace, key: key, expected: condition,
                    found: current.map(MLRevision.init(rawValue:)))
            }
        }
        var committing: Set<Int64> = []
        for index in operations.indices {
            switch operations[index] {
            case .put(let namespace, let key, _, let condition):
                try check(index, namespace, key, condition)
                if hashed { overlay[Slot(namespace: namespace, key: key)] = .some(pendingRevision) }
            case .delete(let namespace, let key, let condition):
                try check(index, namespace, key, condition)
                if hashed { overlay[Slot(namespace: namespace, key: key)] = .some(nil) }
            case .require(let namespace, let key, let condition):
                try check(index, namespace, key, condition)
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
                let key = BlobKey(blob.sha256)
                if state.blobs[key] == nil {  // identical bytes are stored once
                    state.blobs[key] = InMemoryState.Blob(
                        info: MLBlobInfo(sha256: blob.sha256, size: blob.size, chunkCount: blob.chunkCount),
                        chunks: upload.chunks)
                }
            case .deleteBlob(let sha256):
                state.blobs[BlobKey(sha256)] = nil
            }
        }
    }
}
