import Foundation
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// Stores in different PostgreSQL schemas of one database share nothing.
@Suite("PostgreSQL schema isolation", .needsPostgres)
struct IsolationTests {
    @Test("two schemas do not see each other's keys, revisions or blobs")
    func schemasAreIsolated() async throws {
        try await Scratch.withSchemas(2) { schemas in
            let first = try await PostgresBackend.makeStore(schema: schemas[0])
            let second = try await PostgresBackend.makeStore(schema: schemas[1])
            try await first.put(namespace: MLNamespace.models, key: "shared-name", value: "first")
            try await first.put(namespace: MLNamespace.models, key: "only-first", value: "1")
            try await second.put(namespace: MLNamespace.models, key: "shared-name", value: "second")

            #expect(try await first.get(namespace: MLNamespace.models, key: "shared-name") == "first")
            #expect(try await second.get(namespace: MLNamespace.models, key: "shared-name") == "second")
            #expect(try await second.get(namespace: MLNamespace.models, key: "only-first") == nil)
            #expect(try await first.list(namespace: MLNamespace.models).map(\.key).sorted() == ["only-first", "shared-name"])
            #expect(try await second.page(namespace: MLNamespace.models, MLPageRequest()).entries.map(\.key) == ["shared-name"])

            // A condition in one schema is checked against that schema only.
            var batch = MLBatch()
            batch.put(namespace: MLNamespace.models, key: "only-first", value: "2", if: .absent)
            try await second.commit(batch)
            #expect(try await first.get(namespace: MLNamespace.models, key: "only-first") == "1")

            let staged = try await first.writeBlob(Data("weights of the first".utf8))
            var commitBlob = MLBatch()
            commitBlob.commitBlob(staged)
            try await first.commit(commitBlob)
            #expect(try await first.blobInfo(sha256: staged.sha256) != nil)
            #expect(try await second.blobInfo(sha256: staged.sha256) == nil)
            #expect(try await second.blobs(after: nil, limit: 10).isEmpty)
        }
    }
}
