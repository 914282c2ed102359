import Foundation
import RedML
import Testing

/// Weights damaged in the file behind the registry's back fail every read as
/// `weights_corrupt`, naming the model and version.
@Suite("Damaged weights")
struct DamagedWeightsTests {
    @Test("a chunk of a version's weights lost from the file is weights_corrupt naming the model and version")
    func aMissingChunkIsReportedAsCorruptNamingTheVersion() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.blobChunkSize = 4_096
        let store = try SQLiteMLPersistence(path: directory.path("weights.sqlite"), configuration: configuration)
        let registry = MLModelRegistry(store: store)
        let good = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
        try await registry.register(MLRegistration(model: "spam"), weights: Data("other".utf8))
        let version = try await registry.register(MLRegistration(model: "spam"), weights: good)
        try await SQLiteShell.run(store.path, """
            DELETE FROM ml_blob_chunks WHERE seq = 1
              AND upload_id = (SELECT upload_id FROM ml_blobs WHERE sha256 = '\(version.weights.sha256)')
            """)
        do {
            _ = try await registry.weightsData(of: "spam", version: 2)
            Issue.record("the weights read without their second chunk")
        } catch let error as MLRegistryError {
            #expect(error.code == .weightsCorrupt, "\(error)")
            #expect(error.model == "spam" && error.version == 2)
            #expect(error.message.contains("version 2 of model 'spam'") && error.message.contains("no chunk 1"), "\(error)")
        }
        #expect(try await registry.weightsData(of: "spam", version: 1) == Data("other".utf8))
        // Registering the good bytes again replaces the damaged copy, as for bytes altered in place.
        try await registry.register(MLRegistration(model: "spam"), weights: good)
        #expect(try await registry.weightsData(of: "spam", version: 2) == good)
        try store.close()
    }
}
