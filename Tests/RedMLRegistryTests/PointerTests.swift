import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// The active pointer, rollback, named aliases and their compare-and-swap moves.
@Suite("Pointers")
struct PointerTests {
    @Test(arguments: Backends.allFixtures())
    func builtInAliasesActiveAndLatest(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await register(registry, "spam", activate: false)
        #expect(try await registry.version(of: "spam", alias: "active")?.version == 2)
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 3)
        try await registry.activate("spam", version: 1)
        #expect(try await registry.version(of: "spam", alias: "active")?.version == 1)
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 3)
        try await registry.deactivate("spam")
        #expect(try await registry.version(of: "spam", alias: "active") == nil)
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 3)
    }

    @Test(arguments: Backends.allFixtures())
    func deactivateClearsTheActivePointerAndLogsIt(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.deactivate("spam", by: "oncall")
        #expect(try await registry.activeVersion(of: "spam") == nil)
        #expect(try await registry.model("spam").activeVersion == nil)
        let last = try #require(try await allEvents(registry, "spam").last)
        #expect(last.kind == .deactivated)
        #expect(last.previousVersion == 2)
        #expect(last.version == nil)
        #expect(last.actor == "oncall")
        // Deactivating again is a no-op.
        let before = try await snapshot(store)
        try await registry.deactivate("spam")
        #expect(try await snapshot(store) == before)
        // A fresh registry agrees (nothing only in a cache).
        #expect(try await MLModelRegistry(store: store).activeVersion(of: "spam") == nil)
    }

    @Test(arguments: Backends.allFixtures())
    func setAliasPointsAndMoves(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for _ in 0..<3 { try await register(registry, "spam") }
        let first = try await registry.setAlias("champion", of: "spam", to: 1, by: "alice")
        #expect(first.version == 1)
        try await registry.setAlias("staging", of: "spam", to: 3)
        #expect(try await registry.version(of: "spam", alias: "champion")?.version == 1)
        #expect(try await registry.version(of: "spam", alias: "staging")?.version == 3)
        try await registry.setAlias("champion", of: "spam", to: 2, by: "bob")
        #expect(try await registry.version(of: "spam", alias: "champion")?.version == 2)
        #expect(try await registry.model("spam").aliases == ["champion": 2, "staging": 3])
        // Aliases do not move the active pointer.
        #expect(try await registry.activeVersion(of: "spam")?.version == 3)

        let moves = try await registry.history(of: "spam", MLHistoryQuery(alias: "champion")).events
        #expect(moves.map(\.kind) == [.aliasMoved, .aliasMoved])
        #expect(moves.map(\.version) == [1, 2])
        #expect(moves.map(\.previousVersion) == [nil, 1])
        #expect(moves.map(\.actor) == ["alice", "bob"])
        #expect(moves.allSatisfy { $0.alias == "champion" })
    }

    @Test(arguments: Backends.allFixtures())
    func unknownAliasFailsCleanly(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let error = await expectRegistryError(.unknownAlias, mentioning: ["spam", "champion"]) {
            try await registry.version(of: "spam", alias: "champion")
        }
        #expect(error?.model == "spam")
        let before = try await snapshot(store)
        await expectRegistryError(.unknownAlias, mentioning: ["spam", "champion"]) {
            try await registry.removeAlias("champion", of: "spam")
        }
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func aliasToUnknownVersionFails(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let before = try await snapshot(store)
        await expectRegistryError(.unknownVersion, mentioning: ["spam", "9"]) {
            try await registry.setAlias("champion", of: "spam", to: 9)
        }
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func aliasCannotPointAtAnArchivedVersion(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.setAlias("champion", of: "spam", to: 2)
        try await registry.archive("spam", version: 1)
        let before = try await snapshot(store)
        let error = await expectRegistryError(.versionArchived, mentioning: ["spam", "1", "champion"]) {
            try await registry.setAlias("champion", of: "spam", to: 1)
        }
        #expect(error?.version == 1)
        await expectRegistryError(.versionArchived, mentioning: ["spam", "1"]) {
            try await registry.setAlias("fresh", of: "spam", to: 1, expecting: .absent)
        }
        #expect(try await snapshot(store) == before)
        #expect(try await registry.version(of: "spam", alias: "champion")?.version == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func casAbsentSucceedsOnceThenConflicts(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.setAlias("champion", of: "spam", to: 1, expecting: .absent)
        let before = try await snapshot(store)
        let error = await expectRegistryError(.aliasConflict, mentioning: ["champion", "spam", "1"]) {
            try await registry.setAlias("champion", of: "spam", to: 2, expecting: .absent)
        }
        #expect(error?.model == "spam")
        #expect(error?.version == 1, "the error names where the alias points now")
        #expect(try await snapshot(store) == before)
        #expect(try await registry.version(of: "spam", alias: "champion")?.version == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func casPointsAtMovesOnlyFromTheExpectedVersion(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for _ in 0..<3 { try await register(registry, "spam") }
        try await registry.setAlias("champion", of: "spam", to: 1)

        let before = try await snapshot(store)
        let error = await expectRegistryError(.aliasConflict, mentioning: ["champion", "spam", "version 1"]) {
            try await registry.setAlias("champion", of: "spam", to: 3, expecting: .pointsAt(2))
        }
        #expect(error?.version == 1)
        #expect(try await snapshot(store) == before)

        try await registry.setAlias("champion", of: "spam", to: 3, expecting: .pointsAt(1))
        #expect(try await registry.version(of: "spam", alias: "champion")?.version == 3)

        // .pointsAt on an alias that does not exist conflicts too.
        let missing = try await snapshot(store)
        let absent = await expectRegistryError(.aliasConflict, mentioning: ["staging", "does not exist"]) {
            try await registry.setAlias("staging", of: "spam", to: 1, expecting: .pointsAt(1))
        }
        #expect(absent?.version == nil)
        #expect(try await snapshot(store) == missing)
        #expect(try await registry.model("spam").aliases == ["champion": 3])
    }

    @Test(arguments: Backends.allFixtures())
    func removeAliasHonoursItsExpectation(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.setAlias("champion", of: "spam", to: 2)
        let before = try await snapshot(store)
        await expectRegistryError(.aliasConflict, mentioning: ["champion", "spam"]) {
            try await registry.removeAlias("champion", of: "spam", expecting: .pointsAt(1))
        }
        await expectRegistryError(.aliasConflict, mentioning: ["champion"]) {
            try await registry.removeAlias("champion", of: "spam", expecting: .absent)
        }
        #expect(try await snapshot(store) == before)

        try await registry.removeAlias("champion", of: "spam", expecting: .pointsAt(2), by: "carol")
        #expect(try await registry.model("spam").aliases.isEmpty)
        await expectRegistryError(.unknownAlias, mentioning: ["champion"]) {
            try await registry.version(of: "spam", alias: "champion")
        }
        let last = try #require(try await allEvents(registry, "spam").last)
        #expect(last.kind == .aliasRemoved)
        #expect(last.alias == "champion")
        #expect(last.previousVersion == 2)
        #expect(last.actor == "carol")
    }

    @Test(arguments: Backends.allFixtures())
    func aliasesAreIndependentPerModel(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await register(registry, "ham")
        try await registry.setAlias("champion", of: "spam", to: 2)
        try await registry.setAlias("champion", of: "ham", to: 1, expecting: .absent)
        #expect(try await registry.version(of: "spam", alias: "champion")?.model == "spam")
        #expect(try await registry.version(of: "spam", alias: "champion")?.version == 2)
        #expect(try await registry.version(of: "ham", alias: "champion")?.model == "ham")
        #expect(try await registry.version(of: "ham", alias: "champion")?.version == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func pointerChangesAreVisibleToAnotherRegistryOnTheSameStore(_ fixture: MLStoreFixture) async throws {
        let (store, writer) = try await makeRegistry(fixture)
        let reader = MLModelRegistry(store: store)
        try await register(writer, "spam")
        #expect(try await reader.activeVersion(of: "spam")?.version == 1)
        try await register(writer, "spam")
        #expect(try await reader.activeVersion(of: "spam")?.version == 2)
        try await writer.activate("spam", version: 1)
        #expect(try await reader.activeVersion(of: "spam")?.version == 1)
        try await writer.updateVersion("spam", version: 1, description: "now described")
        #expect(try await reader.activeVersion(of: "spam")?.description == "now described")
        try await writer.setAlias("champion", of: "spam", to: 2)
        #expect(try await reader.version(of: "spam", alias: "champion")?.version == 2)
        try await writer.deactivate("spam")
        #expect(try await reader.activeVersion(of: "spam") == nil)
    }
}
