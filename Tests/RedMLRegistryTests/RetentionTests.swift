import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// deleteWeights, applyRetention and collectGarbage.
@Suite("Retention")
struct RetentionTests {
    @Test(arguments: Backends.allFixtures())
    func liveVersionsKeepTheirWeights(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "one")
        try await register(registry, "spam", weights: "two", activate: false)
        let before = try await snapshot(store)
        for number: UInt32 in [1, 2] {  // the active one and an inactive live one
            let error = await expectRegistryError(.versionNotArchived, mentioning: ["spam", "\(number)"]) {
                try await registry.deleteWeights("spam", version: number)
            }
            #expect(error?.version == number)
        }
        #expect(try await snapshot(store) == before)
        #expect(try await registry.weightsData(of: "spam", version: 1) == bytes("one"))
        #expect(try await registry.weightsData(of: "spam", version: 2) == bytes("two"))
    }

    @Test(arguments: Backends.allFixtures())
    func deleteWeightsKeepsTheRecord(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let v1 = try await register(registry, "spam", weights: "old")
        try await register(registry, "spam", weights: "new")
        try await registry.archive("spam", version: 1)
        let deleted = try await registry.deleteWeights("spam", version: 1, by: "janitor")
        #expect(deleted.weights.deleted)

        let read = try await registry.version("spam", 1)
        #expect(read.archived)
        #expect(read.weights.deleted)
        #expect(read.weights.sha256 == v1.weights.sha256)
        #expect(read.weights.size == v1.weights.size)
        #expect(read.hyperparameters == v1.hyperparameters)
        #expect(read.createdAtMs == v1.createdAtMs)

        let error = await expectRegistryError(.weightsDeleted, mentioning: ["spam", "1"]) {
            try await registry.weightsData(of: "spam", version: 1)
        }
        #expect(error?.version == 1)
        #expect(try await allBlobs(store).map(\.sha256) == [MLBlobHasher.sha256(of: bytes("new"))])
        #expect(try await usage(store, v1.weights.sha256) == nil)

        let last = try #require(try await allEvents(registry, "spam").last)
        #expect(last.kind == .weightsDeleted)
        #expect(last.version == 1)
        #expect(last.actor == "janitor")

        // Deleting again changes nothing.
        let before = try await snapshot(store)
        try await registry.deleteWeights("spam", version: 1)
        #expect(try await snapshot(store) == before)
        // The other version is untouched.
        #expect(try await registry.weightsData(of: "spam", version: 2) == bytes("new"))
    }

    @Test(arguments: Backends.allFixtures())
    func sharedBlobSurvivesUntilTheLastReference(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let shared = try await register(registry, "spam", weights: "shared")
        try await register(registry, "spam", weights: "shared")
        try await register(registry, "ham", weights: "shared")
        try await register(registry, "spam", weights: "serving")
        try await register(registry, "ham", weights: "serving ham")
        let sha = shared.weights.sha256
        #expect(try await usage(store, sha)?.references == 3)

        try await registry.archive("spam", version: 1)
        try await registry.archive("spam", version: 2)
        try await registry.archive("ham", version: 1)

        try await registry.deleteWeights("spam", version: 1)
        #expect(try await usage(store, sha)?.references == 2)
        #expect(try await allBlobs(store).contains { $0.sha256 == sha })
        #expect(try await registry.weightsData(of: "spam", version: 2) == bytes("shared"))

        try await registry.deleteWeights("spam", version: 2)
        #expect(try await usage(store, sha)?.references == 1)
        #expect(try await registry.weightsData(of: "ham", version: 1) == bytes("shared"))

        try await registry.deleteWeights("ham", version: 1)
        #expect(try await usage(store, sha) == nil)
        #expect(try await !allBlobs(store).contains { $0.sha256 == sha })
        #expect(try await allBlobs(store).count == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func reRegisteringDeletedBytesStoresThemAgain(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "comeback")
        try await register(registry, "spam", weights: "other")
        try await registry.archive("spam", version: 1)
        try await registry.deleteWeights("spam", version: 1)
        let again = try await register(registry, "spam", weights: "comeback")
        #expect(again.version == 3)
        #expect(try await registry.weightsData(of: "spam", version: 3) == bytes("comeback"))
        #expect(try await usage(store, again.weights.sha256)?.references == 1)
        // The old version stays deleted.
        await expectRegistryError(.weightsDeleted) { try await registry.weightsData(of: "spam", version: 1) }
    }

    @Test(arguments: Backends.allFixtures())
    func applyRetentionKeepsTheNewestArchived(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        for index in 1...5 { try await register(registry, "spam", weights: "w\(index)") }
        for number: UInt32 in 1...3 { try await registry.archive("spam", version: number) }
        let deleted = try await registry.applyRetention("spam", MLRetentionPolicy(keepNewestArchived: 1), by: "cron")
        #expect(deleted == [2, 1])
        let versions = try await registry.allVersions(of: "spam")
        #expect(versions.map(\.weights.deleted) == [true, true, false, false, false])
        for number: UInt32 in 3...5 {
            #expect(try await registry.weightsData(of: "spam", version: number) == bytes("w\(number)"))
        }
        #expect(try await allBlobs(store).count == 3)
        let retentionEvents = try await registry.history(of: "spam", MLHistoryQuery(kinds: [.weightsDeleted])).events
        #expect(retentionEvents.map(\.version) == [2, 1])
        #expect(retentionEvents.allSatisfy { $0.actor == "cron" })
        // Applying it again finds nothing more to do.
        let before = try await snapshot(store)
        #expect(try await registry.applyRetention("spam", MLRetentionPolicy(keepNewestArchived: 1)) == [])
        #expect(try await snapshot(store) == before)
    }

    @Test(arguments: Backends.allFixtures())
    func applyRetentionHonoursTheGracePeriod(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        try await register(registry, "spam")  // v1 at t0
        clock.advance(seconds: 3_600)
        try await register(registry, "spam")  // v2 at t0+1h
        clock.advance(seconds: 3_600)
        try await register(registry, "spam")  // v3 at t0+2h, active
        try await registry.archive("spam", version: 1)
        try await registry.archive("spam", version: 2)
        clock.advance(seconds: 60)
        // Keep archived versions younger than 90 minutes: v2 (61 min old) stays, v1 goes.
        let deleted = try await registry.applyRetention("spam", MLRetentionPolicy(keepYoungerThanMs: 90 * 60_000))
        #expect(deleted == [1])
        #expect(try await registry.version("spam", 1).weights.deleted)
        #expect(try await registry.version("spam", 2).weights.deleted == false)
        #expect(try await registry.version("spam", 3).weights.deleted == false)
    }

    @Test(arguments: Backends.allFixtures())
    func collectGarbageRemovesAbandonedUploadsOnly(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "kept")
        // A writer that staged bytes and died before committing them.
        _ = try await store.writeBlob(bytes("abandoned"))
        let report = try await registry.collectGarbage(uploadsStartedBefore: Date().addingTimeInterval(60))
        #expect(report.abandonedUploads == 1)
        #expect(report.unreferencedBlobs == 0)
        #expect(try await registry.weightsData(of: "spam", version: 1) == bytes("kept"))
        #expect(try await allBlobs(store).count == 1)
        let again = try await registry.collectGarbage(uploadsStartedBefore: Date().addingTimeInterval(60))
        #expect(again.abandonedUploads == 0)
        #expect(again.unreferencedBlobs == 0)
    }

    @Test(arguments: Backends.allFixtures())
    func aNegativeRetentionPolicyIsRefusedAndDeletesNothing(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for number in 1...2 { _ = try await register(registry, "spam", weights: "v\(number)") }
        try await registry.archive("spam", version: 1, force: true)
        for (policy, field) in [(MLRetentionPolicy(keepNewestArchived: -1), "keepNewestArchived"),
                                (MLRetentionPolicy(keepYoungerThanMs: -60_000), "keepYoungerThanMs")] {
            let error = try await #require(throws: MLRegistryError.self) {
                try await registry.applyRetention("spam", policy)
            }
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("'spam'") && error.message.contains(field), "\(error.message)")
        }
        #expect(try await registry.weightsData(of: "spam", version: 1) == bytes("v1"))
    }

    @Test(arguments: Backends.allFixtures())
    func collectGarbageKeepsRecentUploads(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let staged = try await store.writeBlob(bytes("in flight"))
        let report = try await registry.collectGarbage(uploadsStartedBefore: Date().addingTimeInterval(-3_600))
        #expect(report.abandonedUploads == 0)
        // Still there: the upload can be committed and read back whole.
        var batch = MLBatch()
        batch.commitBlob(staged)
        try await store.commit(batch)
        #expect(try await store.readBlobData(sha256: staged.sha256) == bytes("in flight"))
    }

    @Test(arguments: Backends.allFixtures())
    func collectGarbageRemovesBlobsNothingReferences(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let live = try await register(registry, "spam", weights: "live")
        // A blob whose usage count dropped to zero without the blob being removed.
        let staged = try await store.writeBlob(bytes("orphan"))
        var batch = MLBatch()
        batch.commitBlob(staged)
        batch.put(namespace: MLNamespace.modelWeights, key: staged.sha256,
                  value: #"{"references":0,"sha256":"\#(staged.sha256)"}"#)
        try await store.commit(batch)
        #expect(try await allBlobs(store).count == 2)

        let report = try await registry.collectGarbage(uploadsStartedBefore: Date.distantPast)
        #expect(report.unreferencedBlobs == 1)
        #expect(try await allBlobs(store).map(\.sha256) == [live.weights.sha256])
        #expect(try await usage(store, staged.sha256) == nil)
        #expect(try await usage(store, live.weights.sha256)?.references == 1)
        #expect(try await registry.weightsData(of: "spam", version: 1) == bytes("live"))
    }
}
