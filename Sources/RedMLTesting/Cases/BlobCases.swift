import Foundation
import RedMLPersistence

/// Committing, deduplicating, listing, deleting and verifying blobs.
enum BlobCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("blob.emptyBlob") { fixture in
            let store = try await fixture.makeStore()
            let staged = try await store.writeBlob(Data())
            let emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            try expectEqual(staged.sha256, emptySHA, "SHA-256 of the empty blob")
            try expectEqual(staged.size, 0, "size of the empty blob")
            try await Support.commit(store) { $0.commitBlob(staged) }
            try expectEqual(try await store.blobInfo(sha256: emptySHA)?.size, 0, "stored size of the empty blob")
            try expectEqual(try await store.readBlobData(sha256: emptySHA), Data(), "bytes of the empty blob")
        },
        MLConformanceCase("blob.notReadableUntilCommitted") { fixture in
            let store = try await fixture.makeStore()
            let bytes = Data("weights of spam@v3".utf8)
            let staged = try await store.writeBlob(bytes)
            try expectEqual(staged.sha256, MLBlobHasher.sha256(of: bytes), "SHA-256 of the staged blob")
            try expectEqual(try await store.blobInfo(sha256: staged.sha256), nil, "blob info before commit")
            let error = try await expectThrows(code: "blob_not_found", "readBlob before commit") {
                _ = try await store.readBlob(sha256: staged.sha256)
            }
            try expectEqual(error, .blobNotFound(sha256: staged.sha256), "error of readBlob before commit")
            try expectEqual(try await store.blobs(after: nil, limit: 10).count, 0, "committed blobs before commit")
            try await Support.commit(store) { batch in
                batch.commitBlob(staged)
                batch.put(
                    namespace: "model_versions", key: "spam@v3", value: #"{"blob":"\#(staged.sha256)"}"#, if: .absent)
            }
            try expectEqual(try await store.readBlobData(sha256: staged.sha256), bytes, "bytes after commit")
            try expectEqual(
                try await store.blobs(after: nil, limit: 10).map(\.sha256), [staged.sha256],
                "committed blobs after commit")
        },
        MLConformanceCase("blob.failedBatchLeavesBlobUncommitted") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "model_versions", key: "spam@v3", value: "taken")
            let staged = try await BlobSupport.stage(store, "weights that lost the race")
            let error = try await expectThrows(code: "conflict", "commit of a blob with a put-if-absent on a taken key")
            {
                try await Support.commit(store) { batch in
                    batch.commitBlob(staged)
                    batch.put(namespace: "model_versions", key: "spam@v3", value: "mine", if: .absent)
                }
            }
            _ = try Support.conflict(error)
            try expectEqual(try await store.blobInfo(sha256: staged.sha256), nil, "blob info after the failed batch")
            _ = try await expectThrows(code: "blob_not_found", "readBlob after the failed batch") {
                _ = try await store.readBlob(sha256: staged.sha256)
            }
            // The staged upload survives the failed batch and can be committed on retry.
            try await Support.commit(store) { batch in
                batch.commitBlob(staged)
                batch.put(namespace: "model_versions", key: "spam@v4", value: "mine", if: .absent)
            }
            try expectEqual(
                try await store.readBlobData(sha256: staged.sha256), Data("weights that lost the race".utf8),
                "bytes after the retried commit")
        },
        MLConformanceCase("blob.identicalBytesStoredOnce") { fixture in
            let store = try await fixture.makeStore()
            let first = try await BlobSupport.stage(store, "same bytes")
            let second = try await BlobSupport.stage(store, "same bytes")
            try expectEqual(first.sha256, second.sha256, "SHA-256 of two uploads of the same bytes")
            try expect(first.upload != second.upload, "two uploads got the same id \(first.upload)")
            try await Support.commit(store) { $0.commitBlob(first) }
            try await Support.commit(store) { $0.commitBlob(second) }
            try expectEqual(
                try await BlobSupport.allBlobs(store), [first.sha256], "blobs after committing the same bytes twice")
            // Twice in one batch, too.
            let third = try await BlobSupport.stage(store, "other bytes")
            let fourth = try await BlobSupport.stage(store, "other bytes")
            try await Support.commit(store) { batch in
                batch.commitBlob(third)
                batch.commitBlob(fourth)
            }
            try expectEqual(
                try await BlobSupport.allBlobs(store, limit: 10),
                [first.sha256, third.sha256].sorted(), "blobs after committing other bytes twice in one batch")
            try expectEqual(
                try await store.readBlobData(sha256: third.sha256), Data("other bytes".utf8), "deduplicated bytes")
        },
        MLConformanceCase("blob.listingInSHAOrder") { fixture in
            let store = try await fixture.makeStore()
            var shas: [String] = []
            for index in 0..<7 {
                let staged = try await BlobSupport.stage(store, "blob number \(index)")
                try await Support.commit(store) { $0.commitBlob(staged) }
                shas.append(staged.sha256)
            }
            for limit in [1, 2, 3, 100] {
                try expectEqual(
                    try await BlobSupport.allBlobs(store, limit: limit), shas.sorted(),
                    "blob listing with limit \(limit)")
            }
            let rest = try await store.blobs(after: shas.sorted()[3], limit: 100).map(\.sha256)
            try expectEqual(rest, Array(shas.sorted().dropFirst(4)), "blobs after the fourth SHA-256")
            _ = try await expectThrows(code: "invalid_argument", "blobs(limit: 0)") {
                _ = try await store.blobs(after: nil, limit: 0)
            }
        },
        MLConformanceCase("blob.delete") { fixture in
            let store = try await fixture.makeStore()
            let kept = try await BlobSupport.stage(store, "kept")
            let doomed = try await BlobSupport.stage(store, "doomed")
            try await Support.commit(store) { batch in
                batch.commitBlob(kept)
                batch.commitBlob(doomed)
                batch.put(namespace: "models", key: "m", value: "v")
            }
            // A delete in a failing batch does not happen.
            _ = try await expectThrows(code: "conflict", "a blob delete with a failed condition") {
                try await Support.commit(store) { batch in
                    batch.deleteBlob(sha256: doomed.sha256)
                    batch.require(namespace: "models", key: "m", .absent)
                }
            }
            try expectEqual(
                try await store.readBlobData(sha256: doomed.sha256), Data("doomed".utf8), "blob after the failed delete"
            )
            try await Support.commit(store) { $0.deleteBlob(sha256: doomed.sha256) }
            try expectEqual(try await store.blobInfo(sha256: doomed.sha256), nil, "blob info after delete")
            let error = try await expectThrows(code: "blob_not_found", "readBlob after delete") {
                _ = try await store.readBlob(sha256: doomed.sha256)
            }
            try expectEqual(error, .blobNotFound(sha256: doomed.sha256), "error of readBlob after delete")
            try await Support.commit(store) { $0.deleteBlob(sha256: doomed.sha256) }  // already gone: fine
            try expectEqual(try await store.readBlobData(sha256: kept.sha256), Data("kept".utf8), "the other blob")
            try expectEqual(try await BlobSupport.allBlobs(store), [kept.sha256], "blobs after delete")
            // The same bytes can be committed again after a delete.
            let again = try await BlobSupport.stage(store, "doomed")
            try await Support.commit(store) { $0.commitBlob(again) }
            try expectEqual(
                try await store.readBlobData(sha256: doomed.sha256), Data("doomed".utf8), "blob committed again")
        },
        MLConformanceCase("blob.tamperingIsDetected") { fixture in
            let store = try await fixture.makeStore()
            let bytes = DeterministicBytes(size: 300_000, bufferSize: 65_536, seed: 7)
            let staged = try await store.writeBlob(bytes)
            try await Support.commit(store) { $0.commitBlob(staged) }
            try await fixture.tamperWithBlob(store, staged.sha256)
            let error = try await expectThrows(code: "blob_verification_failed", "reading a tampered blob") {
                _ = try await BlobSupport.readAndHash(store, staged.sha256)
            }
            guard case .blobVerificationFailed(let sha256, let actual, _) = error else {
                throw MLConformanceFailure("expected blobVerificationFailed, found \(error)")
            }
            try expectEqual(sha256, staged.sha256, "SHA-256 named by the verification error")
            try expect(actual != staged.sha256, "verification error's actual hash equals the expected one: \(actual)")
            try expect(
                error.description.contains(staged.sha256), "description should name the blob, found \"\(error)\"")
        },
        MLConformanceCase("blob.committingTheSameBytesRepairsADamagedCopy") { fixture in
            let store = try await fixture.makeStore()
            let bytes = DeterministicBytes(size: 300_000, bufferSize: 65_536, seed: 11)
            let staged = try await store.writeBlob(bytes)
            try await Support.commit(store) { $0.commitBlob(staged) }
            try await fixture.tamperWithBlob(store, staged.sha256)
            _ = try await expectThrows(code: "blob_verification_failed", "reading the damaged copy") {
                _ = try await BlobSupport.readAndHash(store, staged.sha256)
            }
            // Good bytes of the same digest take the damaged copy's place.
            let again = try await store.writeBlob(bytes)
            try expectEqual(again.sha256, staged.sha256, "SHA-256 of the same bytes staged again")
            try await Support.commit(store) { $0.commitBlob(again) }
            try expectEqual(
                try await BlobSupport.readAndHash(store, staged.sha256).sha256, staged.sha256,
                "SHA-256 read after the repair")
            try expectEqual(try await store.blobInfo(sha256: staged.sha256)?.size, 300_000, "size after the repair")
            try expectEqual(try await BlobSupport.allBlobs(store), [staged.sha256], "blobs after the repair")
            // Neither copy is left behind as an upload.
            try expectEqual(
                try await store.removeAbandonedBlobUploads(startedBefore: Date(timeIntervalSinceNow: 3600)), 0,
                "uploads left over after the repair")
        },
    ]
}
