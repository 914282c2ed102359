import Foundation
import RedMLPersistence

/// Helpers the blob cases share.
enum BlobSupport {
    /// Streams a committed blob through ``MLStore/readBlob(sha256:)`` and hashes
    /// what came out, so the bytes are checked without holding them.
    static func readAndHash(_ store: any MLStore, _ sha256: String) async throws -> (sha256: String, size: Int64) {
        var hasher = MLBlobHasher()
        for try await chunk in try await store.readBlob(sha256: sha256) {
            hasher.update(chunk)
        }
        return (hasher.finalize(), hasher.size)
    }

    /// Stages `bytes`, checks the staged description against an independent hash,
    /// commits it alone, and checks what the store reports and returns.
    static func roundTrip(_ store: any MLStore, _ bytes: DeterministicBytes, _ what: String) async throws {
        let expected = bytes.digest()
        let staged = try await store.writeBlob(bytes)
        try expectEqual(staged.sha256, expected.sha256, "SHA-256 of staged \(what)")
        try expectEqual(staged.size, expected.size, "size of staged \(what)")
        try expectEqual(try await store.blobInfo(sha256: staged.sha256), nil, "blob info of \(what) before commit")
        try await Support.commit(store) { $0.commitBlob(staged) }
        let info = try expectNotNil(try await store.blobInfo(sha256: expected.sha256), "blob info of committed \(what)")
        try expectEqual(
            info, MLBlobInfo(sha256: expected.sha256, size: expected.size, chunkCount: staged.chunkCount),
            "blob info of committed \(what)")
        let chunkSize = Int64(store.blobChunkSize)
        try expectEqual(
            Int64(info.chunkCount), max(1, (expected.size + chunkSize - 1) / chunkSize),
            "chunk count of \(what) with chunk size \(chunkSize)")
        let read = try await readAndHash(store, expected.sha256)
        try expectEqual(read.size, expected.size, "size of \(what) read back")
        try expectEqual(read.sha256, expected.sha256, "SHA-256 of \(what) read back")
    }

    /// Stages small in-memory bytes.
    static func stage(_ store: any MLStore, _ text: String) async throws -> MLStagedBlob {
        try await store.writeBlob(Data(text.utf8))
    }

    /// The SHA-256 of every committed blob, walking the listing `limit` at a time.
    static func allBlobs(_ store: any MLStore, limit: Int = 2) async throws -> [String] {
        var shas: [String] = []
        var after: String?
        while true {
            let page = try await store.blobs(after: after, limit: limit)
            try expect(
                page.count <= limit, "blobs(limit: \(limit)): expected at most \(limit) blobs, found \(page.count)")
            shas += page.map(\.sha256)
            guard page.count == limit, let last = page.last else { break }
            after = last.sha256
            try expect(shas.count < 100_000, "blob listing did not end")
        }
        return shas
    }
}
