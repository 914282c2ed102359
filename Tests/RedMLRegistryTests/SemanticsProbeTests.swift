import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Probes of what an MLflow user expects of the registry, beyond the other suites.
@Suite("Semantics probes")
struct SemanticsProbeTests {
    @Test(arguments: Backends.allFixtures())
    func namesAreCaseSensitiveAndNumberedApart(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "lower")
        try await register(registry, "spam", weights: "lower 2")
        let upper = try await register(registry, "Spam", weights: "upper")
        #expect(upper.version == 1)
        #expect(try await registry.model("spam").latestVersion == 2)
        #expect(try await registry.model("Spam").latestVersion == 1)
        #expect(try await registry.weightsData(of: "Spam", version: 1) == bytes("upper"))
        await expectRegistryError(.unknownModel, mentioning: ["SPAM"]) { try await registry.model("SPAM") }
        #expect(try await allEvents(registry, "Spam").count == 2)
        #expect(try await allEvents(registry, "spam").count == 4)
    }

    @Test(arguments: Backends.allFixtures())
    func numbersAreNeverReusedAfterArchivingAndRetention(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for index in 1...3 { try await register(registry, "spam", weights: "w\(index)") }
        try await registry.archive("spam", version: 3, force: true)
        try await registry.archive("spam", version: 2, force: true)
        try await registry.applyRetention("spam", MLRetentionPolicy())
        #expect(try await registry.allVersions(of: "spam").map(\.weights.deleted) == [false, true, true])
        let next = try await register(registry, "spam", weights: "w2")  // bytes of a deleted version
        #expect(next.version == 4)
        #expect(try await registry.allVersions(of: "spam").map(\.version) == [1, 2, 3, 4])
        #expect(try await registry.weightsData(of: "spam", version: 4) == bytes("w2"))
    }

    @Test(arguments: Backends.allFixtures())
    func updatingAVersionChangesOnlyDescriptionAndTags(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "parent")
        let original = try await registry.register(
            MLRegistration(model: "spam", hyperparameters: ["lr": 0.1], metrics: ["acc": 0.9],
                           trainingDataSHA256: String(repeating: "a", count: 64), trainingQuery: "SELECT 1",
                           parentVersion: 1, createdBy: "trainer", description: "first", tags: ["a": "1"]),
            weights: bytes("child"))
        let updated = try await registry.updateVersion("spam", version: 2, description: "second", tags: ["b": "2"],
                                                       by: "alice")
        var expected = original
        expected.description = "second"
        expected.tags = ["b": "2"]
        #expect(updated == expected)
        #expect(try await MLModelRegistry(store: store).version("spam", 2) == expected)
        #expect(try await registry.activeVersion(of: "spam") == expected)
        #expect(try await MLModelRegistry(store: store).activeVersion(of: "spam") == expected)
        // Another registry that cached the active version sees an update made elsewhere.
        let other = MLModelRegistry(store: store)
        #expect(try await other.activeVersion(of: "spam") == expected)
        let retagged = try await registry.updateVersion("spam", version: 2, tags: ["c": "3"])
        #expect(try await other.activeVersion(of: "spam") == retagged)
        #expect(try await other.version(of: "spam", alias: "active")?.tags == ["c": "3"])
        let updates = try await allEvents(registry, "spam").filter { $0.kind == .versionUpdated }
        #expect(updates.map(\.actor) == ["alice", nil])
        #expect(updates.allSatisfy { $0.version == 2 })
    }

    @Test(arguments: Backends.allFixtures())
    func aMissingWeightsFileIsAnInvalidArgumentNamingTheFile(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let before = try await snapshot(store)
        let file = try scratchFolder().appendingPathComponent("no-such-weights.bin")
        let error = await expectRegistryError(.invalidArgument, mentioning: ["no-such-weights.bin"]) {
            try await registry.register(MLRegistration(model: "spam"), weightsFile: file)
        }
        #expect(error?.model == "spam")
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func retentionAndGarbageCollectionKeepWeightsALiveVersionShares(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "same")
        try await register(registry, "spam", weights: "other")
        let serving = try await register(registry, "spam", weights: "same")
        try await registry.archive("spam", version: 1)
        try await registry.archive("spam", version: 2)
        #expect(try await registry.applyRetention("spam", MLRetentionPolicy()) == [2, 1])
        _ = try await registry.collectGarbage(uploadsStartedBefore: Date().addingTimeInterval(3_600))
        #expect(try await registry.weightsData(of: "spam", version: 3) == bytes("same"))
        #expect(try await usage(store, serving.weights.sha256)?.references == 1)
        #expect(try await allBlobs(store).map(\.sha256) == [serving.weights.sha256])
    }

    @Test(arguments: Backends.allFixtures())
    func aTamperedSharedBlobFailsForEveryVersionUsingItUntilGoodBytesAreRegistered(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let a = try await register(registry, "spam", weights: "shared bytes")
        try await register(registry, "ham", weights: "shared bytes")
        try await fixture.tamperWithBlob(store, a.weights.sha256)
        for (model, number) in [("spam", UInt32(1)), ("ham", 1)] {
            let error = await expectRegistryError(.weightsCorrupt, mentioning: [model, "version \(number)"]) {
                try await registry.weightsData(of: model, version: number)
            }
            #expect(error?.model == model)
        }
        // Registering good bytes of that digest again repairs the one stored copy, for every version using it.
        let again = try await register(registry, "spam", weights: "shared bytes")
        for (model, number) in [("spam", UInt32(1)), ("ham", 1), ("spam", again.version)] {
            #expect(try await registry.weightsData(of: model, version: number) == Data("shared bytes".utf8))
        }
    }

    @Test(arguments: Backends.allFixtures())
    func aliasOfAForceArchivedVersionNoLongerResolves(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.setAlias("champion", of: "spam", to: 1)
        try await registry.archive("spam", version: 1, force: true)
        let error = await expectRegistryError(.unknownAlias, mentioning: ["spam", "champion"]) {
            try await registry.version(of: "spam", alias: "champion")
        }
        #expect(error?.model == "spam")
        // `latest` names the newest version even when it is archived.
        try await registry.archive("spam", version: 2, force: true)
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 2)
        #expect(try await registry.version(of: "spam", alias: "active") == nil)
    }

    @Test(arguments: Backends.allFixtures())
    func refusedChangesNameTheModelVersionAndAlias(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        let before = try await snapshot(store)
        var error = await expectRegistryError(.unknownModel, mentioning: ["ghost"]) {
            try await registry.unarchive("ghost", version: 1)
        }
        #expect(error?.model == "ghost")
        error = await expectRegistryError(.unknownModel, mentioning: ["ghost"]) {
            try await registry.updateVersion("ghost", version: 1, description: "x")
        }
        #expect(error?.model == "ghost")
        error = await expectRegistryError(.unknownModel, mentioning: ["ghost"]) {
            try await registry.removeAlias("champion", of: "ghost")
        }
        #expect(error?.model == "ghost")
        for call in [
            { try await registry.unarchive("spam", version: 9) },
            { try await registry.updateVersion("spam", version: 9, tags: [:]) },
            { try await registry.deleteWeights("spam", version: 9) },
            { try await registry.setAlias("champion", of: "spam", to: 9) },
        ] as [() async throws -> MLModelVersion] {
            error = await expectRegistryError(.unknownVersion, mentioning: ["spam", "9"]) { try await call() }
            #expect(error?.model == "spam")
            #expect(error?.version == 9)
        }
        error = await expectRegistryError(.unknownAlias, mentioning: ["spam", "champion"]) {
            try await registry.removeAlias("champion", of: "spam")
        }
        error = await expectRegistryError(.versionNotArchived, mentioning: ["spam", "1"]) {
            try await registry.deleteWeights("spam", version: 1)
        }
        #expect(error?.version == 1)
        error = await expectRegistryError(.versionInUse, mentioning: ["spam", "2", "active"]) {
            try await registry.archive("spam", version: 2)
        }
        #expect(error?.version == 2)
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func everyChangeIsLoggedOnceWithItsActorInOrder(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (store, registry) = try await makeRegistry(fixture, clock: clock)
        func step() { clock.advance() }
        try await register(registry, "spam", weights: "a", by: "t1"); step()  // registered, activated
        try await register(registry, "spam", weights: "b", activate: false, by: "t2"); step()  // registered
        try await registry.setAlias("champion", of: "spam", to: 2, by: "u1"); step()
        try await registry.activate("spam", version: 2, by: "u2"); step()
        try await registry.updateVersion("spam", version: 1, description: "old", by: "u3"); step()
        try await registry.updateModel("spam", tags: ["team": "x"], by: "u4"); step()
        try await registry.archive("spam", version: 1, by: "u5"); step()
        try await registry.unarchive("spam", version: 1, by: "u6"); step()
        try await registry.archive("spam", version: 2, force: true, by: "u7"); step()  // deactivated, alias_removed, archived
        try await registry.deleteWeights("spam", version: 2, by: "u8"); step()
        try await registry.deactivate("spam", by: "u9"); step()  // nothing active: no event
        try await registry.setAlias("best", of: "spam", to: 1, by: "u10"); step()
        try await registry.removeAlias("best", of: "spam", by: "u11"); step()
        // No-ops log nothing.
        try await registry.activate("spam", version: 1, by: "u12"); step()
        try await registry.activate("spam", version: 1, by: "nobody")
        try await registry.updateModel("spam", tags: ["team": "x"], by: "nobody")
        try await registry.archive("spam", version: 2, by: "nobody")

        let events = try await allEvents(registry, "spam")
        let expected: [(MLRegistryEvent.Kind, String, UInt32?, UInt32?, String?)] = [
            (.registered, "t1", 1, nil, nil), (.activated, "t1", 1, nil, nil),
            (.registered, "t2", 2, nil, nil),
            (.aliasMoved, "u1", 2, nil, "champion"),
            (.activated, "u2", 2, 1, nil),
            (.versionUpdated, "u3", 1, nil, nil),
            (.modelUpdated, "u4", nil, nil, nil),
            (.archived, "u5", 1, nil, nil),
            (.unarchived, "u6", 1, nil, nil),
            (.deactivated, "u7", nil, 2, nil), (.aliasRemoved, "u7", nil, 2, "champion"), (.archived, "u7", 2, nil, nil),
            (.weightsDeleted, "u8", 2, nil, nil),
            (.aliasMoved, "u10", 1, nil, "best"),
            (.aliasRemoved, "u11", nil, 1, "best"),
            (.activated, "u12", 1, nil, nil),
        ]
        #expect(events.count == expected.count)
        for (index, (event, want)) in zip(events, expected).enumerated() {
            #expect(event.sequence == UInt64(index + 1))
            #expect(event.kind == want.0, "event \(index + 1)")
            #expect(event.actor == want.1, "event \(index + 1)")
            #expect(event.version == want.2, "event \(index + 1) \(event.kind)")
            #expect(event.previousVersion == want.3, "event \(index + 1) \(event.kind)")
            #expect(event.alias == want.4, "event \(index + 1)")
            #expect(event.model == "spam")
        }
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.atMs <= $1.atMs })
        #expect(try await registry.model("spam").eventCount == UInt64(expected.count))
        #expect(try await store.list(namespace: MLNamespace.modelHistory).count == expected.count)
    }

    @Test(arguments: Backends.allFixtures())
    func longFilteredHistoryPagesReturnEveryEventOnce(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        for round in 0..<60 {
            try await registry.setAlias("champion", of: "spam", to: UInt32(round % 2 + 1))
            try await registry.setAlias("other", of: "spam", to: UInt32(round % 2 + 1))
        }
        try await register(registry, "spam-x")  // a model whose events share the prefix "spam"
        for limit in [1, 7, 64, 1_000] {
            for newestFirst in [false, true] {
                var seen: [UInt64] = []
                var query = MLHistoryQuery(limit: limit, newestFirst: newestFirst, alias: "champion")
                while true {
                    let page = try await registry.history(of: "spam", query)
                    #expect(page.events.count <= limit)
                    #expect(page.events.allSatisfy { $0.alias == "champion" && $0.model == "spam" })
                    seen += page.events.map(\.sequence)
                    guard let cursor = page.nextCursor, seen.count < 1_000 else { break }
                    query.after = cursor
                }
                let all = Array(stride(from: UInt64(5), through: 123, by: 2))
                #expect(seen == (newestFirst ? all.reversed() : all), "limit \(limit), newestFirst \(newestFirst)")
            }
        }
    }

    @Test(arguments: Backends.allFixtures())
    func modelsPageEveryModelExactlyOnce(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        let names = ["a", "a-b", "a.b", "a@b", "aa", "Z", "z", "é", "日本", "a b", "a%", "a_b"]
        for name in names { try await register(registry, name, weights: "w") }
        let sorted = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for limit in [1, 3, 1_000] {
            for descending in [false, true] {
                var seen: [String] = []
                var query = MLModelQuery(limit: limit, descending: descending)
                while true {
                    let page = try await registry.models(query)
                    seen += page.models.map(\.name)
                    guard let cursor = page.nextCursor, seen.count < 100 else { break }
                    query.after = cursor
                }
                #expect(seen == (descending ? sorted.reversed() : sorted), "limit \(limit) descending \(descending)")
            }
        }
    }
}
