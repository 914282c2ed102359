import Foundation

/// The persistence surface that durable, concurrent callers need.
///
/// It extends the seed's ``MLPersistence`` with atomic batches, conditional
/// writes, ordered paging and a content-addressed blob store. Every RedML
/// backend adopts it and passes the same conformance suite (`RedMLTesting`).
///
/// Blobs are written in chunks: ``MLStore/writeBlob(_:)`` (an extension)
/// stages the bytes, hashing them as they stream, and a batch that holds
/// ``MLBatch/commitBlob(_:)`` makes them readable with the record that uses them.
public protocol MLStore: MLPersistence {
    /// Returns the entry at `(namespace, key)` with its revision, or `nil`.
    func entry(namespace: String, key: String) async throws -> MLEntry?

    /// Applies every operation of `batch`, or none of them.
    ///
    /// - Returns: the revision that the entries written by this batch now carry.
    ///   For an empty batch, a revision at least as high as any handed out so far.
    /// - Throws: ``MLPersistenceError/conflict(namespace:key:expected:found:)``
    ///   naming the first entry whose condition failed; nothing is applied then.
    @discardableResult
    func commit(_ batch: MLBatch) async throws -> MLRevision

    /// Returns up to `request.limit` entries of `namespace` in key order,
    /// starting after `request.after`, restricted to `request.prefix`.
    func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage

    /// The chunk size, in bytes, that ``writeBlob(_:)`` cuts blobs into for this backend.
    var blobChunkSize: Int { get }

    /// Starts an upload. Low level: use ``writeBlob(_:)``.
    func beginBlobUpload() async throws -> MLBlobUploadID

    /// Stores chunk number `index` (from 0) of an upload. Low level: use ``writeBlob(_:)``.
    func appendBlobChunk(_ chunk: Data, index: Int, to upload: MLBlobUploadID) async throws

    /// Seals an upload whose chunks hash to `sha256`. Low level: use ``writeBlob(_:)``.
    func finishBlobUpload(
        _ upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int
    ) async throws -> MLStagedBlob

    /// Stages bytes that fit in one chunk, whose SHA-256 the caller computed,
    /// in one step. Low level: use ``writeBlob(_:)``.
    func stageBlob(chunk: Data, sha256: String) async throws -> MLStagedBlob
    /// Drops an upload that will never be committed, and its chunks.
    func abortBlobUpload(_ upload: MLBlobUploadID) async throws

    /// Removes uploads started before `date` that were never committed (for
    /// example, because their writer crashed), and returns how many it removed.
    @discardableResult
    func removeAbandonedBlobUploads(startedBefore date: Date) async throws -> Int

    /// Describes the committed blob with this SHA-256, or returns `nil`.
    func blobInfo(sha256: String) async throws -> MLBlobInfo?

    /// Returns chunk `index` of a committed blob, unverified. Use ``readBlob(sha256:)``
    /// to read a blob with verification.
    func readBlobChunk(sha256: String, index: Int) async throws -> Data

    /// Lists committed blobs in SHA-256 order, after `after`, at most `limit` of them.
    func blobs(after: String?, limit: Int) async throws -> [MLBlobInfo]

    /// A number that changes whenever anything in the store changes, if the
    /// backend can read it without I/O and no other process can write to the
    /// store; `nil` otherwise.
    ///
    /// Caches of decoded records use it to skip revalidation: while it has not
    /// moved, nothing they read can have changed. Read it *before* reading the
    /// records it will vouch for.
    var localChangeCounter: Int64? { get }
}

extension MLStore {
    /// No cheap change counter: callers revalidate by revision.
    public var localChangeCounter: Int64? { nil }

    /// Stages one chunk through the three upload steps; backends that can do it
    /// in one write override this.
    public func stageBlob(chunk: Data, sha256: String) async throws -> MLStagedBlob {
        let upload = try await beginBlobUpload()
        do {
            try await appendBlobChunk(chunk, index: 0, to: upload)
            return try await finishBlobUpload(upload, sha256: sha256, size: Int64(chunk.count), chunkCount: 1)
        } catch {
            try? await abortBlobUpload(upload)
            throw error
        }
    }

    /// Stages a blob from a stream of byte buffers of any size, hashing as it goes.
    ///
    /// At most one chunk (``blobChunkSize``) is held in memory at a time. The
    /// result is not readable until a batch commits it with ``MLBatch/commitBlob(_:)``.
    public func writeBlob<Bytes: AsyncSequence>(_ bytes: Bytes) async throws -> MLStagedBlob
    where Bytes.Element == Data {
        let upload = try await beginBlobUpload()
        do {
            var hasher = MLBlobHasher()
            var chunker = BlobChunker(chunkSize: blobChunkSize)
            var index = 0
            // One chunk is stored while the next is read and hashed, so hashing and
            // storage overlap; at most two chunks are in memory at a time.
            try await withThrowingTaskGroup(of: Void.self) { storing in
                var storingOne = false
                func store(_ chunk: Data) {
                    let position = index
                    index += 1
                    storing.addTask { try await self.appendBlobChunk(chunk, index: position, to: upload) }
                    storingOne = true
                }
                for try await buffer in bytes {
                    hasher.update(buffer)
                    for chunk in chunker.add(buffer) {
                        if storingOne { try await storing.next() }
                        store(chunk)
                    }
                }
                if let last = chunker.finish(isFirst: index == 0) {
                    if storingOne { try await storing.next() }
                    store(last)
                }
                try await storing.waitForAll()
            }
            return try await finishBlobUpload(
                upload, sha256: hasher.finalize(), size: hasher.size, chunkCount: index)
        } catch {
            try? await abortBlobUpload(upload)
            throw error
        }
    }

    /// Stages a blob that is already in memory (for small blobs and tests).
    public func writeBlob(_ bytes: Data) async throws -> MLStagedBlob {
        guard bytes.count <= blobChunkSize else { return try await writeBlob(SingleBuffer(bytes: bytes)) }
        // One chunk: nothing to overlap, and the backend may stage it in one write.
        var hasher = MLBlobHasher()
        hasher.update(bytes)
        return try await stageBlob(chunk: bytes, sha256: hasher.finalize())
    }

    /// Stages the contents of a file, reading it one chunk at a time.
    public func writeBlob(contentsOf file: URL) async throws -> MLStagedBlob {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: file)
        } catch {
            throw MLPersistenceError.invalidArgument("cannot read blob file \(file.path): \(error)")
        }
        defer { try? handle.close() }
        return try await writeBlob(FileChunks(handle: handle, chunkSize: blobChunkSize))
    }

    /// Reads a committed blob chunk by chunk, verifying its SHA-256 and size.
    ///
    /// The sequence throws ``MLPersistenceError/blobVerificationFailed(sha256:actual:size:)``
    /// after the last chunk if the bytes no longer match their address, so a
    /// consumer must treat everything it received as suspect until the
    /// sequence ends without error.
    public func readBlob(sha256: String) async throws -> MLBlobStream {
        guard let info = try await blobInfo(sha256: sha256) else {
            throw MLPersistenceError.blobNotFound(sha256: sha256)
        }
        return MLBlobStream(store: self, info: info)
    }

    /// Reads a whole committed blob into memory, verified (for small blobs and tests).
    public func readBlobData(sha256: String) async throws -> Data {
        var data = Data()
        for try await chunk in try await readBlob(sha256: sha256) {
            data.append(chunk)
        }
        return data
    }
}

/// A committed blob's bytes, chunk by chunk, verified against its SHA-256 at the end.
public struct MLBlobStream: AsyncSequence, Sendable {
    public typealias Element = Data

    /// The blob being read.
    public let info: MLBlobInfo
    private let store: any MLStore

    init(store: any MLStore, info: MLBlobInfo) {
        self.store = store
        self.info = info
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, info: info)
    }

    /// Fetches one chunk per call and checks the hash after the last one.
    public struct Iterator: AsyncIteratorProtocol {
        let store: any MLStore
        let info: MLBlobInfo
        var index = 0
        var hasher = MLBlobHasher()
        var finished = false

        public mutating func next() async throws -> Data? {
            if index < info.chunkCount {
                let chunk = try await store.readBlobChunk(sha256: info.sha256, index: index)
                index += 1
                hasher.update(chunk)
                return chunk
            }
            guard !finished else { return nil }
            finished = true
            let actual = hasher.finalize()
            guard actual == info.sha256, hasher.size == info.size else {
                throw MLPersistenceError.blobVerificationFailed(
                    sha256: info.sha256, actual: actual, size: hasher.size)
            }
            return nil
        }
    }
}

/// One buffer as an async sequence.
private struct SingleBuffer: AsyncSequence, Sendable {
    typealias Element = Data
    let bytes: Data

    func makeAsyncIterator() -> Iterator { Iterator(bytes: bytes) }

    struct Iterator: AsyncIteratorProtocol {
        var bytes: Data?
        mutating func next() async throws -> Data? {
            defer { bytes = nil }
            return bytes
        }
    }
}

/// A file read one chunk at a time.
package struct FileChunks: AsyncSequence {
    package typealias Element = Data
    let handle: FileHandle
    let chunkSize: Int

    /// Reads `handle` from its current offset, `chunkSize` bytes per element.
    package init(handle: FileHandle, chunkSize: Int) {
        self.handle = handle
        self.chunkSize = chunkSize
    }

    package func makeAsyncIterator() -> Iterator { Iterator(handle: handle, chunkSize: chunkSize) }

    /// Reads one chunk per call.
    package struct Iterator: AsyncIteratorProtocol {
        let handle: FileHandle
        let chunkSize: Int
        package mutating func next() async throws -> Data? {
            let data = try handle.read(upToCount: chunkSize) ?? Data()
            return data.isEmpty ? nil : data
        }
    }
}

/// Cuts a stream of buffers of any size into chunks of one size, copying only
/// when a chunk spans buffers.
private struct BlobChunker {
    let chunkSize: Int
    private var pending = Data()

    init(chunkSize: Int) {
        self.chunkSize = chunkSize
    }

    /// The whole chunks that `buffer` completes.
    mutating func add(_ buffer: Data) -> [Data] {
        if pending.isEmpty && buffer.count == chunkSize { return [buffer] }  // the common case: no copy
        pending.append(buffer)
        var chunks: [Data] = []
        var start = pending.startIndex
        while pending.endIndex - start >= chunkSize {
            chunks.append(Data(pending[start..<(start + chunkSize)]))
            start += chunkSize
        }
        if start != pending.startIndex { pending = Data(pending[start...]) }
        return chunks
    }

    /// The last, short chunk; an empty blob is stored as one empty chunk.
    mutating func finish(isFirst: Bool) -> Data? {
        defer { pending = Data() }
        return pending.isEmpty && !isFirst ? nil : pending
    }
}
