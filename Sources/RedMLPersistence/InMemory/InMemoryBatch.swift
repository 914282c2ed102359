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

    static func validate(_ batch: MLBatch, against state: InMemoryState) throws {
        // What the batch itself has written so far: a revision, or nil once deleted.
        var overlay: [Slot: Int64?] = [:]
        let pendingRevision: Int64 = state.revision + 1
        func check(_ namespace: String, _ key: String, _ condition: MLCondition) throws {
            let slot = Slot(namespace: namespace, key: key)
            let current: Int64? = overlay[slot] ?? state.current(namespace, key)?.revision
            guard condition.isSatisfied(by: current.map(MLRevision.init(rawValue:))) else {
                throw MLPersistenceError.conflict(
                    namespace: namespace, key: key, expected: condition,
                    found: current.map(MLRevision.init(rawValue:)))
            }
        }
        var committing: Set<Int64> = []
        for operation in batch.operations {
            switch operation {
            case .put(let namespace, let key, _, let condition):
                try check(namespace, key, condition)
                overlay[Slot(namespace: namespace, key: key)] = .some(pendingRevision)
            case .delete(let namespace, let key, let condition):
                try check(namespace, key, condition)
                overlay[Slot(namespace: namespace, key: key)] = .some(nil)
            case .require(let namespace, let key, let condition):
                try check(namespace, key, condition)
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
                if state.blobs[blob.sha256] == nil {  // identical bytes are stored once
                    state.blobs[blob.sha256] = InMemoryState.Blob(
                        info: MLBlobInfo(sha256: blob.sha256, size: blob.size, chunkCount: blob.chunkCount),
                        chunks: upload.chunks)
                }
            case .deleteBlob(let sha256):
                state.blobs[sha256] = nil
            }
        }
    }
}
