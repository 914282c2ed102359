import Foundation
import RedML
import Testing

@Suite("Integrity check")
struct IntegrityTests {
    @Test("a tampered blob is reported as blob_mismatch naming its sha; verifyBlobs: false skips the bytes")
    func tamperedBlob() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.blobChunkSize = 4096
        let store = try SQLiteMLPersistence(path: directory.path("blobs.sqlite"), configuration: configuration)
        let good = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
        let victim = Data((0..<9_000).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 3) })
        var shas: [String] = []
        for bytes in [good, victim] {
            let staged = try await store.writeBlob(bytes)
            #expect(staged.chunkCount == 3)
            var batch = MLBatch()
            batch.commitBlob(staged)
            try await store.commit(batch)
            shas.append(staged.sha256)
        }
        #expect(shas == [MLBlobHasher.sha256(of: good), MLBlobHasher.sha256(of: victim)])
        let healthy = try await store.checkIntegrity()
        #expect(healthy.isHealthy, "\(healthy.problems)")
        #expect(healthy.blobsChecked == 2)

        try store.tamperWithBlob(sha256: shas[1])
        let report = try await store.checkIntegrity()
        #expect(report.blobsChecked == 2)
        #expect(report.problems.map(\.code) == ["blob_mismatch"], "\(report.problems)")
        #expect(report.problems.first?.message.contains(shas[1]) == true)
        #expect(report.problems.first?.message.contains(shas[0]) == false)

        let quick = try await store.checkIntegrity(verifyBlobs: false)
        #expect(quick.isHealthy, "\(quick.problems)")
        #expect(quick.blobsChecked == 2)

        // Reading the blob fails verification too; the other still reads.
        await #expect(throws: MLPersistenceError.self) { try await store.readBlobData(sha256: shas[1]) }
        #expect(try await store.readBlobData(sha256: shas[0]) == good)
        try store.close()
    }

    @Test("a committed blob missing a chunk is reported as blob_missing_chunks, even without verifying bytes")
    func missingChunk() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("chunks.sqlite")
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.blobChunkSize = 1024
        let store = try SQLiteMLPersistence(path: path, configuration: configuration)
        let staged = try await store.writeBlob(Data(repeating: 0x5a, count: 3000))
        var batch = MLBatch()
        batch.commitBlob(staged)
        try await store.commit(batch)
        try await SQLiteShell.run(path, "DELETE FROM ml_blob_chunks WHERE seq = 1")
        for verify in [true, false] {
            let report = try await store.checkIntegrity(verifyBlobs: verify)
            #expect(report.problems.map(\.code) == ["blob_missing_chunks"], "\(report.problems)")
            #expect(report.problems.first?.message.contains(staged.sha256) == true)
            #expect(report.problems.first?.message.contains("2 of 3") == true, "\(report.problems)")
        }
        try store.close()
    }
}
