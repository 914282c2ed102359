import Foundation
import Synchronization

/// A thread-safe store held in memory: the test and default backend.
///
/// Every reference to one instance shares its state. Lookups are hash-table
/// lookups, ``list(namespace:)`` costs time proportional to that namespace
/// only, and paging walks a sorted index of the namespace's keys, brought up
/// to date at each page in O(log n) per key written since.
/// Nothing survives the process; use ``SQLiteMLPersistence`` for that.
public final class InMemoryMLPersistence: MLStore, MLImmediateStore {
    let state = LockedState()

    /// The chunk size blobs are cut into. 1 MiB unless set at creation.
    public let blobChunkSize: Int

    /// Creates an empty store.
    public init(blobChunkSize: Int = 1 << 20) {
        precondition(blobChunkSize > 0, "blobChunkSize must be positive")
        self.blobChunkSize = blobChunkSize
    }

    // MARK: The seed's contract

    public func put(namespace: String, key: String, value: String) async throws {
        try MLInput.check(namespace: namespace, key: key)
        try MLInput.check(value, "value")
        state.withLock { state in
            let revision = state.nextRevision()
            state.put(namespace, key, value, revision: revision)
            state.changeCount += 1
        }
    }

    public func get(namespace: String, key: String) async throws -> String? {
        if let value = state.withLock({ $0.value(namespace, key) }) { return value }
        // Only a miss needs the input check: a stored name or key never holds NUL.
        try MLInput.check(namespace: namespace, key: key)
        return nil
    }

    public func delete(namespace: String, key: String) async throws {
        try MLInput.check(namespace: namespace, key: key)
        state.withLock { state in
            state.delete(namespace, key)
            state.changeCount += 1
        }
    }

    public func list(namespace: String) async throws -> [(key: String, value: String)] {
        try MLInput.check(namespace, "namespace")
        return state.withLock { $0.list(namespace) }
    }

    /// Every process sees its own in-memory store, so the count of changes is
    /// exact and free to read.
    public var localChangeCounter: Int64? {
        // Read under the lock rather than from an `Atomic` beside it: an `Atomic`
        // stored in this class corrupted the heap in release builds (Swift 6.3.1, Linux).
        state.withLock { $0.changeCount }
    }

    // MARK: Entries, batches and pages

    public func entry(namespace: String, key: String) async throws -> MLEntry? {
        try MLInput.check(namespace: namespace, key: key)
        return state.withLock { state in
            state.current(namespace, key).map {
                MLEntry(key: key, value: $0.value, revision: MLRevision(rawValue: $0.revision))
            }
        }
    }

    @discardableResult
    public func commit(_ batch: MLBatch) async throws -> MLRevision {
        // Validation checks the input too (``MLInput``), in the same pass over the operations.
        try state.withLock { state in
            try InMemoryBatch.validate(batch, against: &state)
            let revision = batch.isEmpty ? state.revision : state.nextRevision()
            InMemoryBatch.apply(batch, to: &state, revision: revision)
            if !batch.isEmpty { state.changeCount += 1 }
            return MLRevision(rawValue: revision)
        }
    }

    public func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage {
        try request.validate()
        try MLInput.check(namespace: namespace, request)
        return state.withLock { state in
            guard let space = state.indexedNamespace(namespace) else { return MLPage(entries: [], nextCursor: nil) }
            return Self.page(of: space, request)
        }
    }

    private static func page(of space: InMemoryState.Namespace, _ request: MLPageRequest) -> MLPage {
        let index = space.index
        // Narrow [low, high) to the keys the prefix and the cursor allow, then walk it.
        var low = index.start
        var high = index.end
        if let prefix = request.prefix {
            low = index.lowerBound(prefix)
            // Going up, the walk stops at the first key past the prefix; going down, it starts below them.
            if request.order.isDescending, let successor = MLKeyOrder.successor(ofPrefix: prefix) {
                high = index.lowerBound(successor)
            }
        }
        if let after = request.after {
            if request.order.isDescending {
                high = min(high, index.lowerBound(after))
            } else {
                low = max(low, index.upperBound(after))
            }
        }
        var found: [MLEntry] = []
        var more = false
        let descending = request.order.isDescending
        var place = descending ? high : low
        while descending ? place > low : place < high {
            if descending { place = index.place(before: place) }
            let key = index.key(at: place)
            if !descending {
                if let prefix = request.prefix, !key.hasUTF8Prefix(prefix) { break }
                place = index.place(after: place)
            }
            guard let stored = space.stored(key) else { continue }  // the index holds live keys only; defensive
            if found.count == request.limit {
                more = true
                break
            }
            found.append(MLEntry(key: key, value: stored.value, revision: MLRevision(rawValue: stored.revision)))
        }
        return MLPage(entries: found, nextCursor: more ? found.last?.key : nil)
    }

    // MARK: Blobs

    public func beginBlobUpload() async throws -> MLBlobUploadID {
        state.withLock { state in
            state.lastUploadID += 1
            state.uploads[state.lastUploadID] = InMemoryState.Upload(startedAt: Date())
            return MLBlobUploadID(rawValue: state.lastUploadID)
        }
    }

    public func appendBlobChunk(_ chunk: Data, index: Int, to upload: MLBlobUploadID) async throws {
        try state.withLock { state in
            guard var pending = state.uploads[upload.rawValue], pending.sealed == nil else {
                throw MLPersistenceError.invalidArgument("\(upload) is not open for writing")
            }
            guard index == pending.chunks.count else {
                throw MLPersistenceError.invalidArgument(
                    "\(upload) expected chunk \(pending.chunks.count), got chunk \(index)")
            }
            state.uploads[upload.rawValue] = nil  // keep the chunk array uniquely referenced
            pending.chunks.append(chunk)
            state.uploads[upload.rawValue] = pending
        }
    }

    public func finishBlobUpload(
        _ upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int
    ) async throws -> MLStagedBlob {
        try state.withLock { state in
            guard var pending = state.uploads[upload.rawValue], pending.sealed == nil else {
                throw MLPersistenceError.invalidArgument("\(upload) is not open for writing")
            }
            guard pending.chunks.count == chunkCount else {
                throw MLPersistenceError.invalidArgument(
                    "\(upload) holds \(pending.chunks.count) chunks, not \(chunkCount)")
            }
            try MLInput.checkSHA256(sha256)
            let staged = MLStagedBlob(upload: upload, sha256: sha256, size: size, chunkCount: chunkCount)
            pending.sealed = staged
            state.uploads[upload.rawValue] = pending
            return staged
        }
    }

    /// Stages a one-chunk blob in one step: begun, filled and sealed under one lock.
    public func stageBlob(chunk: Data, sha256: String) async throws -> MLStagedBlob {
        try MLInput.checkSHA256(sha256)
        let startedAt = Date()
        return state.withLock { state in
            state.lastUploadID += 1
            let staged = MLStagedBlob(
                upload: MLBlobUploadID(rawValue: state.lastUploadID), sha256: sha256, size: Int64(chunk.count),
                chunkCount: 1)
            state.uploads[state.lastUploadID] = InMemoryState.Upload(startedAt: startedAt, chunks: [chunk], sealed: staged)
            return staged
        }
    }

    public func abortBlobUpload(_ upload: MLBlobUploadID) async throws {
        _ = state.withLock { $0.uploads.removeValue(forKey: upload.rawValue) }
    }

    @discardableResult
    public func removeAbandonedBlobUploads(startedBefore date: Date) async throws -> Int {
        state.withLock { state in
            let stale = state.uploads.filter { $0.value.startedAt < date }.map(\.key)
            for id in stale { state.uploads[id] = nil }
            return stale.count
        }
    }

    public func blobInfo(sha256: String) async throws -> MLBlobInfo? {
        state.withLock { $0.blobs[BlobKey(sha256)]?.info }
    }

    public func readBlobChunk(sha256: String, index: Int) async throws -> Data {
        try state.withLock { state in
            guard let blob = state.blobs[BlobKey(sha256)] else { throw MLPersistenceError.blobNotFound(sha256: sha256) }
            guard blob.chunks.indices.contains(index) else {
                throw MLPersistenceError.invalidArgument(
                    "blob \(sha256) has \(blob.chunks.count) chunks, no chunk \(index)")
            }
            return blob.chunks[index]
        }
    }

    public func blobs(after: String?, limit: Int) async throws -> [MLBlobInfo] {
        guard limit >= 1 else { throw MLPersistenceError.invalidArgument("limit must be at least 1, got \(limit)") }
        return state.withLock { state in
            let infos = state.blobs.values.map(\.info).filter { after == nil || $0.sha256 > after! }
            return Array(infos.sorted { $0.sha256 < $1.sha256 }.prefix(limit))
        }
    }

    /// Flips one byte of a committed blob, so tests can prove that reads verify.
    package func tamperWithBlob(sha256: String) {
        state.withLock { state in
            guard var blob = state.blobs[BlobKey(sha256)], var first = blob.chunks.first, !first.isEmpty else { return }
            first[first.startIndex] ^= 0xff
            blob.chunks[0] = first
            state.blobs[BlobKey(sha256)] = blob
        }
    }
}
