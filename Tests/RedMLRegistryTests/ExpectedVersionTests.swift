import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Registering with an expected version number: a retried upload cannot make a second version.
@Suite("Expected version")
struct ExpectedVersionTests {
    @Test(arguments: Backends.allFixtures())
    func theNextNumberIsAccepted(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        let first = try await registry.register(MLRegistration(model: "spam", expectedVersion: 1), weights: bytes("a"))
        #expect(first.version == 1)
        let second = try await registry.register(MLRegistration(model: "spam", expectedVersion: 2), weights: bytes("b"))
        #expect(second.version == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func aTakenNumberIsAConflictThatWritesNothing(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await registry.register(MLRegistration(model: "spam", expectedVersion: 1), weights: bytes("a"))
        let before = try await snapshot(store)
        let error = await #expect(throws: MLRegistryError.self) {
            try await registry.register(MLRegistration(model: "spam", expectedVersion: 1), weights: bytes("again"))
        }
        #expect(error?.code == .versionConflict)
        #expect(error?.message == "model 'spam' expected to register version 1, but the next version is 2")
        #expect(try await snapshot(store) == before)
        #expect(try await registry.model("spam").latestVersion == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func aNumberAheadOfTheNextIsRefused(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        let error = await #expect(throws: MLRegistryError.self) {
            try await registry.register(MLRegistration(model: "spam", expectedVersion: 3), weights: bytes("a"))
        }
        #expect(error?.code == .versionConflict)
        let unknown = await #expect(throws: MLRegistryError.self) { try await registry.model("spam") }
        #expect(unknown?.code == .unknownModel)
    }
}
