import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Synchronization
import Testing

/// A store that forwards everything to another one and counts blob reads, so
/// a test can prove that metadata reads never touch the weights.
final class BlobReadCountingStore: MLStore {
    let inner: any MLStore
    private let reads = Mutex(0)

    init(_ inner: any MLStore) { self.inner = inner }

    var blobReads: Int { reads.withLock { $0 } }
    func resetBlobReads() { reads.withLock { $0 = 0 } }
    private func countRead() { reads.withLock { $0 += 1 } }

    func put(namespace: String, key: String, value: String) async throws {
        try await inner.put(namespace: namespace, key: key, value: value)
    }
    func get(namespace: String, key: String) async throws -> String? {
        try await inner.get(namespace: namespace, key: key)
    }
    func delete(namespace: String, key: String) async throws {
        try await inner.delete(namespace: namespace, key: key)
    }
    func list(namespace: String) async throws -> [(key: String, value: String)] {
        try await inner.list(namespace: namespace)
    }
    func entry(namespace: String, key: String) async throws -> MLEntry? {
        try await inner.entry(namespace: namespace, key: key)
    }
    func commit(_ batch: MLBatch) async throws -> MLRevision {
        try await inner.commit(batch)
    }
    func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage {
        try await inner.page(namespace: namespace, request)
    }
    var blobChunkSize: Int { inner.blobChunkSize }
    func beginBlobUpload() async throws -> MLBlobUploadID {
        try await inner.beginBlobUpload()
    }
    func appendBlobChunk(_ chunk: Data, index: Int, to upload: MLBlobUploadID) async throws {
        try await inner.appendBlobChunk(chunk, index: index, to: upload)
    }
    func finishBlobUpload(
        _ upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int
    ) async throws -> MLStagedBlob {
        try await inner.finishBlobUpload(upload, sha256: sha256, size: size, chunkCount: chunkCount)
    }
    func abortBlobUpload(_ upload: MLBlobUploadID) async throws {
        try await inner.abortBlobUpload(upload)
    }
    func removeAbandonedBlobUploads(startedBefore date: Date) async throws -> Int {
        try await inner.removeAbandonedBlobUploads(startedBefore: date)
    }
    func blobInfo(sha256: String) async throws -> MLBlobInfo? {
        countRead()
        return try await inner.blobInfo(sha256: sha256)
    }
    func readBlobChunk(sha256: String, index: Int) async throws -> Data {
        countRead()
        return try await inner.readBlobChunk(sha256: sha256, index: index)
    }
    func blobs(after: String?, limit: Int) async throws -> [MLBlobInfo] {
        try await inner.blobs(after: after, limit: limit)
    }
}

/// Streaming, deduplication and verification of weights.
@Suite("Weights")
struct WeightsTests {
    @Test(arguments: Backends.allFixtures())
    func streamedWeightsRoundTripAcrossChunks(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let weights = patternedBytes(count: 2 * store.blobChunkSize + store.blobChunkSize / 2 + 17, seed: 3)
        // Odd buffer sizes, so chunks span buffers.
        let version = try await registry.register(
            MLRegistration(model: "big"), weights: ChunkedBytes(data: weights, sizes: [100_003, 7, 333_333]))
        #expect(version.weights.size == Int64(weights.count))
        #expect(version.weights.sha256 == MLBlobHasher.sha256(of: weights))

        var chunks: [Data] = []
        let stream = try await registry.weights(of: "big", version: 1)
        #expect(stream.version == version)
        for try await chunk in stream { chunks.append(chunk) }
        #expect(chunks.count == 3, "read one chunk per call, never the whole blob at once")
        #expect(chunks.allSatisfy { $0.count <= store.blobChunkSize })
        #expect(chunks.reduce(Data(), +) == weights)
        #expect(try await registry.weightsData(of: "big", version: 1) == weights)
    }

    @Test(arguments: Backends.allFixtures())
    func weightsFromAFileAndDownloadToAFile(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = patternedBytes(count: store.blobChunkSize + 1_234, seed: 9)
        let source = folder.appendingPathComponent("in.bin")
        try weights.write(to: source)
        let version = try await registry.register(MLRegistration(model: "file"), weightsFile: source)
        #expect(version.weights.size == Int64(weights.count))
        let target = folder.appendingPathComponent("out.bin")
        try await registry.downloadWeights(of: "file", version: 1, to: target)
        #expect(try Data(contentsOf: target) == weights)
        // A file that cannot be created is named with the system's reason.
        let nowhere = folder.appendingPathComponent("missing/out.bin")
        let error = await #expect(throws: MLRegistryError.self) {
            try await registry.downloadWeights(of: "file", version: 1, to: nowhere)
        }
        #expect(error?.message == "cannot create \(nowhere.path) for the weights of model 'file': No such file or directory")
    }

    @Test(arguments: Backends.allFixtures())
    func emptyWeightsRoundTrip(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        let version = try await registry.register(MLRegistration(model: "empty"), weights: Data())
        #expect(version.weights.size == 0)
        #expect(try await registry.weightsData(of: "empty", version: 1) == Data())
    }

    @Test(arguments: Backends.allFixtures())
    func identicalWeightsAreStoredOnce(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let a = try await register(registry, "spam", weights: "same bytes")
        let b = try await register(registry, "spam", weights: "same bytes")
        let c = try await register(registry, "ham", weights: "same bytes")
        #expect(a.weights.sha256 == b.weights.sha256)
        #expect(a.weights.sha256 == c.weights.sha256)
        let blobs = try await allBlobs(store)
        #expect(blobs.map(\.sha256) == [a.weights.sha256])
        #expect(blobs.first?.size == Int64("same bytes".utf8.count))
        #expect(try await usage(store, a.weights.sha256)?.references == 3)
        for (model, number) in [("spam", UInt32(1)), ("spam", 2), ("ham", 1)] {
            #expect(try await registry.weightsData(of: model, version: number) == bytes("same bytes"))
        }
        // Different bytes make a second blob.
        try await register(registry, "spam", weights: "other bytes")
        #expect(try await allBlobs(store).count == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func corruptWeightsAreReportedNamingModelAndVersion(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "good one")
        let v2 = try await register(registry, "spam", weights: "to be tampered with")
        #expect(try await registry.weightsData(of: "spam", version: 2) == bytes("to be tampered with"))
        try await fixture.tamperWithBlob(store, v2.weights.sha256)

        let error = await expectRegistryError(.weightsCorrupt, mentioning: ["spam", "version 2"]) {
            try await registry.weightsData(of: "spam", version: 2)
        }
        #expect(error?.model == "spam")
        #expect(error?.version == 2)
        if case .blobVerificationFailed(let sha256, _, _)? = error?.underlying {
            #expect(sha256 == v2.weights.sha256)
        } else {
            Issue.record("expected a blobVerificationFailed underlying error, got \(String(describing: error?.underlying))")
        }
        // Verified on every read: a second read fails again.
        await expectRegistryError(.weightsCorrupt, mentioning: ["spam", "version 2"]) {
            try await registry.weightsData(of: "spam", version: 2)
        }
        // The other version and the metadata are unaffected.
        #expect(try await registry.weightsData(of: "spam", version: 1) == bytes("good one"))
        #expect(try await registry.version("spam", 2) == v2)
    }

    @Test(arguments: Backends.allFixtures())
    func corruptStreamThrowsAfterTheLastChunk(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let weights = patternedBytes(count: store.blobChunkSize + 10, seed: 1)
        let version = try await registry.register(MLRegistration(model: "spam"), weights: weights)
        try await fixture.tamperWithBlob(store, version.weights.sha256)
        var received = 0
        let error = await expectRegistryError(.weightsCorrupt, mentioning: ["spam", "version 1"]) {
            for try await chunk in try await registry.weights(of: "spam", version: 1) {
                received += chunk.count
            }
        }
        #expect(error?.version == 1)
        #expect(received == weights.count, "every chunk is delivered before the verdict")
    }

    @Test(arguments: Backends.allFixtures())
    func corruptDownloadLeavesNoFile(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let version = try await register(registry, "spam", weights: "download me")
        try await fixture.tamperWithBlob(store, version.weights.sha256)
        let target = folder.appendingPathComponent("weights.bin")
        await expectRegistryError(.weightsCorrupt, mentioning: ["spam", "version 1"]) {
            try await registry.downloadWeights(of: "spam", version: 1, to: target)
        }
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }

    @Test(arguments: Backends.allFixtures())
    func missingBlobIsReportedAsCorrupt(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let version = try await register(registry, "spam", weights: "vanishing")
        // Delete the blob behind the registry's back.
        var batch = MLBatch()
        batch.deleteBlob(sha256: version.weights.sha256)
        try await store.commit(batch)
        await expectRegistryError(.weightsCorrupt, mentioning: ["spam", "version 1", "missing"]) {
            try await registry.weightsData(of: "spam", version: 1)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func readingMetadataNeverLoadsWeights(_ fixture: MLStoreFixture) async throws {
        let counting = BlobReadCountingStore(try await fixture.makeStore())
        let registry = MLModelRegistry(store: counting)
        try await register(registry, "spam")
        try await register(registry, "spam", activate: false)
        try await registry.setAlias("champion", of: "spam", to: 2)
        try await registry.archive("spam", version: 1, force: true)
        counting.resetBlobReads()

        _ = try await registry.model("spam")
        _ = try await registry.version("spam", 1)
        _ = try await registry.version("spam", 2)
        _ = try await registry.activeVersion(of: "spam")
        _ = try await registry.version(of: "spam", alias: "champion")
        _ = try await registry.version(of: "spam", alias: "latest")
        _ = try await registry.versions(of: "spam")
        _ = try await registry.allVersions(of: "spam")
        _ = try await registry.models()
        _ = try await registry.summaries()
        _ = try await registry.history(of: "spam")
        _ = try await registry.activeVersion(of: "spam", at: Date())
        _ = try await MLModelRegistry(store: counting).version("spam", 2)
        #expect(counting.blobReads == 0)

        _ = try await registry.weightsData(of: "spam", version: 2)
        #expect(counting.blobReads > 0, "the counting store does see weights reads")
    }
}
