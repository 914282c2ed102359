import Foundation
import RedMLPersistence

/// Staged uploads that are aborted or abandoned never become blobs.
enum BlobUploadCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("blobUpload.abort") { fixture in
            let store = try await fixture.makeStore()
            let staged = try await BlobSupport.stage(store, "aborted bytes")
            try await store.abortBlobUpload(staged.upload)
            _ = try await expectThrows(code: "invalid_argument", "commit of an aborted upload") {
                try await Support.commit(store) { batch in
                    batch.put(namespace: "models", key: "m", value: "uses the aborted blob")
                    batch.commitBlob(staged)
                }
            }
            try expectEqual(try await store.blobInfo(sha256: staged.sha256), nil, "blob info of the aborted upload")
            try expectEqual(try await store.get(namespace: "models", key: "m"), nil, "models/m after the failed commit")
            // Aborting an upload that is still open works too.
            let open = try await store.beginBlobUpload()
            try await store.appendBlobChunk(Data("part".utf8), index: 0, to: open)
            try await store.abortBlobUpload(open)
            _ = try await expectThrows(code: "invalid_argument", "finishing an aborted upload") {
                _ = try await store.finishBlobUpload(
                    open, sha256: MLBlobHasher.sha256(of: Data("part".utf8)), size: 4, chunkCount: 1)
            }
        },
        MLConformanceCase("blobUpload.removeAbandoned") { fixture in
            let store = try await fixture.makeStore()
            let committed = try await BlobSupport.stage(store, "committed")
            try await Support.commit(store) { $0.commitBlob(committed) }
            let first = try await BlobSupport.stage(store, "abandoned one")
            let second = try await BlobSupport.stage(store, "abandoned two")
            let open = try await store.beginBlobUpload()
            try await store.appendBlobChunk(Data("never finished".utf8), index: 0, to: open)
            let kept = try await BlobSupport.stage(store, "kept")
            try expectEqual(
                try await store.removeAbandonedBlobUploads(startedBefore: Date().addingTimeInterval(-3600)), 0,
                "uploads removed that started before an hour ago")
            try await Support.commit(store) { $0.commitBlob(kept) }  // a recent upload survives that cleanup
            try expectEqual(
                try await store.removeAbandonedBlobUploads(startedBefore: Date().addingTimeInterval(60)), 3,
                "uploads removed that started before a minute from now")
            for staged in [first, second] {
                _ = try await expectThrows(code: "invalid_argument", "commit of a removed upload") {
                    try await Support.commit(store) { $0.commitBlob(staged) }
                }
                try expectEqual(try await store.blobInfo(sha256: staged.sha256), nil, "blob info of a removed upload")
            }
            try expectEqual(
                try await store.readBlobData(sha256: committed.sha256), Data("committed".utf8),
                "committed blob after cleanup")
            try expectEqual(
                try await store.readBlobData(sha256: kept.sha256), Data("kept".utf8), "kept blob after cleanup")
            try expectEqual(
                try await store.removeAbandonedBlobUploads(startedBefore: Date().addingTimeInterval(60)), 0,
                "uploads removed by a second cleanup")
        },
    ]
}
