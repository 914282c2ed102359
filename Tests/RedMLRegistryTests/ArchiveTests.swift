import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Archiving and unarchiving versions, with and without force.
@Suite("Archive")
struct ArchiveTests {
    @Test(arguments: Backends.allFixtures())
    func archivedVersionStaysReadable(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "one")
        try await register(registry, "spam", weights: "two")
        let archived = try await registry.archive("spam", version: 1, by: "janitor")
        #expect(archived.archived)
        let read = try await registry.version("spam", 1)
        #expect(read.archived)
        #expect(read == archived)
        // Still readable for audits, weights included.
        #expect(try await registry.weightsData(of: "spam", version: 1) == bytes("one"))
        #expect(try await registry.model("spam").archivedCount == 1)
        #expect(try await registry.model("spam").activeVersion == 2)
        let last = try #require(try await allEvents(registry, "spam").last)
        #expect(last.kind == .archived)
        #expect(last.version == 1)
        #expect(last.actor == "janitor")
    }

    @Test(arguments: Backends.allFixtures())
    func archivingTwiceChangesNothingTheSecondTime(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.archive("spam", version: 1)
        let before = try await snapshot(store)
        let again = try await registry.archive("spam", version: 1)
        #expect(again.archived)
        #expect(try await snapshot(store) == before)
        #expect(try await registry.model("spam").archivedCount == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func archivingTheActiveVersionNeedsForce(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        let before = try await snapshot(store)
        let error = await expectRegistryError(.versionInUse, mentioning: ["spam", "2", "active", "force"]) {
            try await registry.archive("spam", version: 2)
        }
        #expect(error?.model == "spam")
        #expect(error?.version == 2)
        #expect(try await snapshot(store) == before)
        #expect(try await registry.version("spam", 2).archived == false)
        #expect(try await registry.activeVersion(of: "spam")?.version == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func archivingAnAliasedVersionNeedsForce(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.setAlias("champion", of: "spam", to: 1)
        let before = try await snapshot(store)
        await expectRegistryError(.versionInUse, mentioning: ["spam", "1", "champion"]) {
            try await registry.archive("spam", version: 1)
        }
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func forceArchivingTheActiveVersionClearsThePointer(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (store, registry) = try await makeRegistry(fixture, clock: clock)
        try await register(registry, "spam")
        try await register(registry, "spam")
        clock.advance(seconds: 10)
        let eventsBefore = try await registry.model("spam").eventCount
        let archived = try await registry.archive("spam", version: 2, force: true, by: "oncall")
        #expect(archived.archived)
        #expect(try await registry.activeVersion(of: "spam") == nil)
        #expect(try await registry.version(of: "spam", alias: "active") == nil)
        let model = try await registry.model("spam")
        #expect(model.activeVersion == nil)
        #expect(model.archivedCount == 1)

        let events = try await allEvents(registry, "spam").filter { $0.sequence > eventsBefore }
        #expect(events.map(\.kind) == [.deactivated, .archived])
        #expect(events.first?.previousVersion == 2)
        #expect(events.allSatisfy { $0.actor == "oncall" && $0.atMs == clock.nowMs })
        #expect(try await registry.activeVersion(of: "spam", at: clock.now) == nil)
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(clock.nowMs - 1)) == 2)
        // A fresh registry agrees.
        #expect(try await MLModelRegistry(store: store).activeVersion(of: "spam") == nil)
    }

    @Test(arguments: Backends.allFixtures())
    func forceArchivingAnAliasedVersionRemovesTheAliases(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.setAlias("champion", of: "spam", to: 1)
        try await registry.setAlias("backup", of: "spam", to: 1)
        try await registry.setAlias("staging", of: "spam", to: 2)
        let eventsBefore = try await registry.model("spam").eventCount
        try await registry.archive("spam", version: 1, force: true)
        let model = try await registry.model("spam")
        #expect(model.aliases == ["staging": 2])
        #expect(model.activeVersion == 2)
        let events = try await allEvents(registry, "spam").filter { $0.sequence > eventsBefore }
        #expect(events.map(\.kind) == [.aliasRemoved, .aliasRemoved, .archived])
        #expect(Set(events.compactMap(\.alias)) == ["champion", "backup"])
        #expect(events.prefix(2).allSatisfy { $0.previousVersion == 1 })
    }

    @Test(arguments: Backends.allFixtures())
    func unarchiveMakesAVersionActivatableAgain(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.archive("spam", version: 1)
        let restored = try await registry.unarchive("spam", version: 1, by: "alice")
        #expect(restored.archived == false)
        #expect(try await registry.model("spam").archivedCount == 0)
        try await registry.activate("spam", version: 1)
        try await registry.setAlias("champion", of: "spam", to: 1)
        #expect(try await registry.activeVersion(of: "spam")?.version == 1)
        let kinds = try await allEvents(registry, "spam").map(\.kind)
        #expect(kinds.suffix(4) == [.archived, .unarchived, .activated, .aliasMoved])
        // Unarchiving a live version changes nothing.
        let count = try await registry.model("spam").eventCount
        try await registry.unarchive("spam", version: 2)
        #expect(try await registry.model("spam").eventCount == count)
        #expect(try await registry.model("spam").archivedCount == 0)
    }

    @Test(arguments: Backends.allFixtures())
    func unarchiveAfterRetentionFails(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.archive("spam", version: 1)
        try await registry.deleteWeights("spam", version: 1)
        let before = try await snapshot(store)
        let error = await expectRegistryError(.weightsDeleted, mentioning: ["spam", "1"]) {
            try await registry.unarchive("spam", version: 1)
        }
        #expect(error?.version == 1)
        #expect(try await snapshot(store) == before)
        #expect(try await registry.version("spam", 1).archived)
    }

    @Test(arguments: Backends.allFixtures())
    func archiveUnknownVersionFails(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let before = try await snapshot(store)
        await expectRegistryError(.unknownVersion, mentioning: ["spam", "3"]) {
            try await registry.archive("spam", version: 3, force: true)
        }
        await expectRegistryError(.unknownVersion, mentioning: ["spam", "3"]) {
            try await registry.unarchive("spam", version: 3)
        }
        #expect(try await snapshot(store) == before)
    }
}
