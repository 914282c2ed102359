import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Records damaged behind the registry's back (a hand edit, a record restored
/// alone) are reported naming the record, never retried as if contended, and
/// never overwritten.
@Suite("Damaged records")
struct DamagedRecordTests {
    /// Rewrites `field` of `model`'s stored record to `value`, as an operator's hand edit would.
    static func edit(_ store: any MLStore, _ model: String, _ field: String, to value: Any) async throws {
        let stored = try #require(try await store.get(namespace: MLNamespace.models, key: model))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any])
        object[field] = value
        let edited = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try await store.put(namespace: MLNamespace.models, key: model, value: edited)
    }

    /// Expects a `persistence` error whose corruption names `key`, with the store left as it was.
    static func expectBehind(
        _ store: any MLStore, naming key: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> some Any
    ) async throws {
        let before = try await snapshot(store)
        // Not `contention`, as after a thousand retries when other writers kept winning.
        let error = await expectRegistryError(.persistence, sourceLocation: sourceLocation, body)
        let underlying = error?.underlying.map { "\($0)" } ?? ""
        #expect(underlying.contains("corrupted") && underlying.contains(key), "\(String(describing: error))",
                sourceLocation: sourceLocation)
        #expect(try await snapshot(store) == before, sourceLocation: sourceLocation)
    }

    @Test(arguments: Backends.allFixtures())
    func aModelRecordBehindItsVersionsIsReportedNotRetried(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for _ in 1...5 { try await register(registry, "spam") }
        try await Self.edit(store, "spam", "latest_version", to: 3)
        let fresh = MLModelRegistry(store: store)
        try await Self.expectBehind(store, naming: "model_versions/spam@v4") { try await register(fresh, "spam") }
        // The registry that cached the record before the edit finds the same on its fresh read.
        try await Self.expectBehind(store, naming: "model_versions/spam@v4") { try await register(registry, "spam") }
    }

    @Test(arguments: Backends.allFixtures())
    func versionsAboveADamagedCounterAreListedNotHidden(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for _ in 1...5 { try await register(registry, "spam") }
        // Its keys (`spam@v9@v1`) begin `spam@v` too, but hold none of spam's versions.
        try await register(registry, "spam@v9")
        try await Self.edit(store, "spam", "latest_version", to: 3)
        let reader = MLModelRegistry(store: store)
        #expect(try await reader.allVersions(of: "spam").map(\.version) == [1, 2, 3, 4, 5])
        #expect(try await reader.versions(of: "spam", MLVersionQuery(newestFirst: true)).versions.map(\.version)
            == [5, 4, 3, 2, 1])
        #expect(try await reader.versions(of: "spam", MLVersionQuery(after: 3)).versions.map(\.version) == [4, 5])
        let first = try await reader.versions(of: "spam", MLVersionQuery(limit: 2, newestFirst: true))
        #expect(first.versions.map(\.version) == [5, 4] && first.nextCursor == 4)
        #expect(try await reader.highestStoredVersion(of: "spam") == 5)
        #expect(try await reader.highestStoredVersion(of: "spam@v9") == 1)
        // Registration still refuses to reuse number 4, naming the record in the way.
        try await Self.expectBehind(store, naming: "model_versions/spam@v4") { try await register(reader, "spam") }
        #expect(try await reader.allVersions(of: "spam").count == 5)
    }

    @Test(arguments: Backends.allFixtures())
    func versionsAboveADamagedCounterAreReadButNotChanged(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for number in 1...5 { try await register(registry, "spam", weights: "weights \(number)") }
        try await registry.archive("spam", version: 4)
        try await Self.edit(store, "spam", "latest_version", to: 3)
        let reader = MLModelRegistry(store: store)
        // Listed, so shown and downloadable, as the versions below the counter are.
        #expect(try await reader.version("spam", 5).version == 5)
        #expect(try await reader.weightsData(of: "spam", version: 5) == bytes("weights 5"))
        #expect(try await reader.version(of: "spam", alias: "active")?.version == 5)
        await expectRegistryError(.unknownVersion, mentioning: ["6"]) { try await reader.version("spam", 6) }
        // A change beside counters that are behind is refused as a registration is, naming the model record.
        try await Self.expectBehind(store, naming: "model_versions/spam@v5") {
            try await reader.setAlias("champion", of: "spam", to: 5)
        }
        try await Self.expectBehind(store, naming: "model_versions/spam@v4") { try await reader.unarchive("spam", version: 4) }
        try await Self.expectBehind(store, naming: "model_versions/spam@v4") { try await reader.deleteWeights("spam", version: 4) }
        // Below the counter, changes still work.
        try await reader.activate("spam", version: 2)
        #expect(try await reader.model("spam").activeVersion == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func aModelRecordBehindItsHistoryIsReportedNotRetried(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for _ in 1...3 { try await register(registry, "spam") }
        try await Self.edit(store, "spam", "event_count", to: 2)
        try await Self.expectBehind(store, naming: "model_history/spam/") {
            try await MLModelRegistry(store: store).activate("spam", version: 1)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func aModelRecordUnderAnotherModelsKeyIsSkippedByListings(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "alpha")
        try await register(registry, "beta")
        let beta = try #require(try await store.get(namespace: MLNamespace.models, key: "beta"))
        try await store.put(namespace: MLNamespace.models, key: "copy", value: beta)
        let page = try await registry.models()
        #expect(page.models.map(\.name) == ["alpha", "beta"])
        #expect(page.skipped.count == 1 && "\(page.skipped)".contains("models/copy"), "\(page.skipped)")
        #expect(try await registry.summaries().map(\.name) == ["alpha", "beta"])
    }

    @Test(arguments: Backends.allFixtures())
    func aMissingModelRecordWithVersionsLeftIsReportedNotRetried(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for _ in 1...2 { try await register(registry, "spam") }
        try await store.delete(namespace: MLNamespace.models, key: "spam")
        try await Self.expectBehind(store, naming: "model_versions/spam@v1") {
            try await register(MLModelRegistry(store: store), "spam")
        }
    }

    @Test(arguments: Backends.allFixtures())
    func aCorruptActiveVersionIsReportedWithTheModelNotThrown(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for _ in 1...2 { try await register(registry, "spam") }
        try await store.put(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 2), value: "{oops")
        // Read by a registry that has not cached the record, as another process would (the edit went behind `registry`).
        let reader = MLModelRegistry(store: store)
        for _ in 1...2 {
            let details = try await reader.details(of: "spam")
            #expect(details.model.activeVersion == 2 && details.active == nil)
            #expect(details.skipped.count == 1 && "\(details.skipped)".contains("model_versions/spam@v2"), "\(details.skipped)")
            // Asked for the active version alone, the read has nothing else to give: it still fails, naming the record.
            try await Self.expectBehind(store, naming: "model_versions/spam@v2") { try await reader.activeVersion(of: "spam") }
        }
        // An active version whose record is gone is reported the same way, not as an unknown version.
        try await store.delete(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 2))
        let details = try await MLModelRegistry(store: store).details(of: "spam")
        #expect(details.active == nil && details.model.latestVersion == 2)
        #expect(details.skipped.count == 1 && "\(details.skipped)".contains("model_versions/spam@v2: missing"), "\(details.skipped)")
        // A corrupt model record is no model to show: that still fails.
        try await store.put(namespace: MLNamespace.models, key: "spam", value: "{oops")
        try await Self.expectBehind(store, naming: "models/spam") { try await MLModelRegistry(store: store).details(of: "spam") }
    }
}
