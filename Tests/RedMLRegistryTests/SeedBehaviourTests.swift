import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// The seed system's registry behaviours, on every backend.
@Suite("Seed behaviour")
struct SeedBehaviourTests {
    @Test(arguments: Backends.allFixtures())
    func numbersAreMonotonicFromOne(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        var numbers: [UInt32] = []
        for _ in 0..<5 {
            numbers.append(try await register(registry, "spam").version)
        }
        #expect(numbers == [1, 2, 3, 4, 5])
        let model = try await registry.model("spam")
        #expect(model.latestVersion == 5)
        #expect(model.versionCount == 5)
        #expect(try await registry.allVersions(of: "spam").map(\.version) == [1, 2, 3, 4, 5])
        // A second model starts its own numbering at 1.
        #expect(try await register(registry, "ham").version == 1)
        #expect(try await registry.model("spam").latestVersion == 5)
    }

    @Test(arguments: Backends.allFixtures())
    func newVersionBecomesActiveByDefault(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        #expect(try await registry.activeVersion(of: "spam")?.version == 1)
        try await register(registry, "spam")
        #expect(try await registry.activeVersion(of: "spam")?.version == 2)
        #expect(try await registry.model("spam").activeVersion == 2)
        let events = try await allEvents(registry, "spam")
        #expect(events.map(\.kind) == [.registered, .activated, .registered, .activated])
        #expect(events[3].version == 2 && events[3].previousVersion == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func unpublishedVersionKeepsTheOldActiveVersion(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let v2 = try await register(registry, "spam", activate: false)
        #expect(v2.version == 2)
        #expect(try await registry.activeVersion(of: "spam")?.version == 1)
        let model = try await registry.model("spam")
        #expect(model.activeVersion == 1)
        #expect(model.latestVersion == 2)
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 2)
        let events = try await allEvents(registry, "spam")
        #expect(events.last?.kind == .registered)
        #expect(events.last?.version == 2)
        #expect(!events.contains { $0.kind == .activated && $0.version == 2 })
    }

    @Test(arguments: Backends.allFixtures())
    func unpublishedFirstVersionLeavesNoActiveVersion(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", activate: false)
        #expect(try await registry.activeVersion(of: "spam") == nil)
        #expect(try await registry.version(of: "spam", alias: "active") == nil)
        #expect(try await registry.model("spam").activeVersion == nil)
        #expect(try await summaryFields(registry) == [SummaryFields("spam", active: nil, total: 1, archived: 0)])
    }

    @Test(arguments: Backends.allFixtures())
    func rollbackActivatesAnOlderVersion(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for _ in 0..<3 { try await register(registry, "spam") }
        let activated = try await registry.activate("spam", version: 1, by: "oncall")
        #expect(activated.version == 1)
        #expect(try await registry.activeVersion(of: "spam")?.version == 1)
        #expect(try await registry.model("spam").activeVersion == 1)
        let last = try #require(try await allEvents(registry, "spam").last)
        #expect(last.kind == .activated)
        #expect(last.version == 1)
        #expect(last.previousVersion == 3)
        #expect(last.actor == "oncall")
        // Rolling forward again works too.
        try await registry.activate("spam", version: 3)
        #expect(try await registry.activeVersion(of: "spam")?.version == 3)
    }

    @Test(arguments: Backends.allFixtures())
    func activatingTheActiveVersionAgainChangesNothing(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let before = try await snapshot(store)
        let again = try await registry.activate("spam", version: 1)
        #expect(again.version == 1)
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func unknownVersionCannotBeActivated(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let before = try await snapshot(store)
        let error = await expectRegistryError(.unknownVersion, mentioning: ["spam", "7"]) {
            try await registry.activate("spam", version: 7)
        }
        #expect(error?.model == "spam")
        #expect(error?.version == 7)
        #expect(try await snapshot(store) == before)
        #expect(try await registry.activeVersion(of: "spam")?.version == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func archivedVersionCannotBeActivated(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.archive("spam", version: 1)
        let before = try await snapshot(store)
        let error = await expectRegistryError(.versionArchived, mentioning: ["spam", "1"]) {
            try await registry.activate("spam", version: 1)
        }
        #expect(error?.model == "spam")
        #expect(error?.version == 1)
        #expect(try await snapshot(store) == before)
        #expect(try await registry.activeVersion(of: "spam")?.version == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func summariesCountArchivedVersionsSeparately(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for _ in 0..<3 { try await register(registry, "b-model") }
        try await register(registry, "a-model")
        try await registry.archive("b-model", version: 1)
        try await registry.archive("b-model", version: 2)
        #expect(try await summaryFields(registry) == [
            SummaryFields("a-model", active: 1, total: 1, archived: 0),
            SummaryFields("b-model", active: 3, total: 3, archived: 2),
        ])
        try await registry.unarchive("b-model", version: 1)
        let b = try #require(try await registry.summaries().first { $0.name == "b-model" })
        #expect(b.totalVersions == 3)
        #expect(b.archivedVersions == 1)
        #expect(try await registry.model("b-model").archivedCount == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func unknownModelLookupsFailCleanly(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "known")
        let before = try await snapshot(store)
        let name = "no-such-model"
        var errors: [MLRegistryError?] = []
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) { try await registry.model(name) })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.version(name, 1)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.activeVersion(of: name)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.version(of: name, alias: "latest")
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.version(of: name, alias: "champion")
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.versions(of: name)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.history(of: name)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.activeVersion(of: name, at: Date())
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.weightsData(of: name, version: 1)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.activate(name, version: 1)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.deactivate(name)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.setAlias("champion", of: name, to: 1)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.archive(name, version: 1)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.updateModel(name, description: "x")
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.deleteWeights(name, version: 1)
        })
        errors.append(await expectRegistryError(.unknownModel, mentioning: [name]) {
            try await registry.applyRetention(name, MLRetentionPolicy())
        })
        for error in errors {
            #expect(error?.model == name)
        }
        #expect(try await registry.contains(model: name) == false)
        #expect(try await registry.contains(model: "known") == true)
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func unknownVersionErrorNamesModelAndNumber(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let error = await expectRegistryError(.unknownVersion, mentioning: ["spam", "42"]) {
            try await registry.version("spam", 42)
        }
        #expect(error?.model == "spam")
        #expect(error?.version == 42)
        await expectRegistryError(.unknownVersion, mentioning: ["spam", "2"]) {
            try await registry.weightsData(of: "spam", version: 2)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func versionRecordsWhatWasRegistered(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        try await register(registry, "spam")
        clock.advance(seconds: 5)
        let dataSHA = String(repeating: "ab", count: 32)
        let registration = MLRegistration(
            model: "spam", hyperparameters: ["lr": 0.01, "layers": [64, 32], "optimizer": "adam"],
            metrics: ["accuracy": 0.97, "loss": 0.125], trainingDataSHA256: dataSHA,
            trainingQuery: "SELECT * FROM emails WHERE label IS NOT NULL", parentVersion: 1,
            createdBy: "trainer-7", description: "second try", tags: ["team": "mail", "stage": "exp"],
            jobID: 0xdead_beef_0000_0000_0000_0000_0000_0001, activate: false)
        let weights = bytes("the weights")
        let registered = try await registry.register(registration, weights: weights)
        let read = try await registry.version("spam", 2)
        #expect(read == registered)
        #expect(read.model == "spam")
        #expect(read.version == 2)
        #expect(read.archived == false)
        #expect(read.hyperparameters == registration.hyperparameters)
        #expect(read.metrics == registration.metrics)
        #expect(read.trainingDataSHA256 == dataSHA)
        #expect(read.trainingQuery == registration.trainingQuery)
        #expect(read.parentVersion == 1)
        #expect(read.createdBy == "trainer-7")
        #expect(read.description == "second try")
        #expect(read.tags == ["team": "mail", "stage": "exp"])
        #expect(read.jobID == 0xdead_beef_0000_0000_0000_0000_0000_0001)
        #expect(read.createdAtMs == clock.nowMs)
        #expect(read.weights.size == Int64(weights.count))
        #expect(read.weights.sha256 == MLBlobHasher.sha256(of: weights))
        #expect(read.weights.deleted == false)
        #expect(read.key == "spam@v2")
        let model = try await registry.model("spam")
        #expect(model.createdAtMs == clock.nowMs - 5_000)
        #expect(model.updatedAtMs == clock.nowMs)
    }

    @Test(arguments: Backends.allFixtures())
    func jobIDIsRecordedOnTheVersion(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let ids: [UInt128?] = [nil, 1, UInt128.max, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210]
        for id in ids {
            try await registry.register(MLRegistration(model: "spam", jobID: id), weights: bytes("w"))
        }
        let fresh = MLModelRegistry(store: store)
        #expect(try await fresh.allVersions(of: "spam").map(\.jobID) == ids)
        // Stored as 32 hex digits, as MLKey.job writes job keys.
        let raw = try #require(try await store.get(namespace: MLNamespace.modelVersions, key: "spam@v4"))
        #expect(raw.contains("\"0123456789abcdeffedcba9876543210\""))
    }

    @Test(arguments: Backends.allFixtures())
    func unknownParentVersionIsRefusedAndNothingIsStored(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "v1")
        let before = try await snapshot(store)
        let error = await expectRegistryError(.unknownVersion, mentioning: ["spam", "5"]) {
            try await registry.register(MLRegistration(model: "spam", parentVersion: 5), weights: bytes("other"))
        }
        #expect(error?.version == 5)
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func descriptionAndTagsOnModelsAndVersions(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        try await registry.register(
            MLRegistration(model: "spam", description: "v1 notes", tags: ["k": "v"]), weights: bytes("w"))
        clock.advance(seconds: 1)
        let model = try await registry.updateModel(
            "spam", description: "Spam filter", tags: ["owner": "mail-team"], by: "alice")
        #expect(model.description == "Spam filter")
        #expect(model.tags == ["owner": "mail-team"])
        #expect(try await registry.model("spam") == model)

        // nil leaves a field as it is; "" clears the description.
        let tagsOnly = try await registry.updateModel("spam", tags: ["owner": "ml"])
        #expect(tagsOnly.description == "Spam filter")
        #expect(tagsOnly.tags == ["owner": "ml"])
        let cleared = try await registry.updateModel("spam", description: "")
        #expect(cleared.description == nil)
        #expect(cleared.tags == ["owner": "ml"])
        // A registration's empty description is none as well, not a second way to say it.
        let undescribed = try await registry.register(
            MLRegistration(model: "spam", description: "", activate: false), weights: Data("u".utf8))
        #expect(undescribed.description == nil)

        let version = try await registry.updateVersion(
            "spam", version: 1, description: "better notes", tags: ["k": "w", "x": "y"], by: "bob")
        #expect(version.description == "better notes")
        #expect(version.tags == ["k": "w", "x": "y"])
        #expect(try await registry.version("spam", 1) == version)
        // The active version read reflects the update too.
        #expect(try await registry.activeVersion(of: "spam") == version)

        let events = try await allEvents(registry, "spam")
        let updates = events.filter { $0.kind == .modelUpdated || $0.kind == .versionUpdated }
        #expect(updates.map(\.kind) == [.modelUpdated, .modelUpdated, .modelUpdated, .versionUpdated])
        #expect(updates.first?.actor == "alice")
        #expect(updates.last?.actor == "bob")
        #expect(updates.last?.version == 1)

        // An update that changes nothing logs nothing.
        let count = try await registry.model("spam").eventCount
        try await registry.updateModel("spam", tags: ["owner": "ml"])
        try await registry.updateVersion("spam", version: 1, description: "better notes")
        #expect(try await registry.model("spam").eventCount == count)
    }

    /// What `updateModel` returns is the record as stored, `updatedAtMs` included.
    @Test(arguments: Backends.allFixtures())
    func updateModelReturnsTheStoredRecord(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (store, registry) = try await makeRegistry(fixture, clock: clock)
        try await register(registry, "spam")
        let registeredAt = clock.nowMs
        clock.advance(seconds: 10)
        let returned = try await registry.updateModel("spam", description: "changed")
        let stored = try await MLModelRegistry(store: store).model("spam")
        #expect(stored.updatedAtMs == registeredAt + 10_000)
        #expect(returned.updatedAtMs == stored.updatedAtMs)
        #expect(returned == stored)
        #expect(stored.createdAtMs == registeredAt)
    }
}
