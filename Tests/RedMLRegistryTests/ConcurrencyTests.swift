import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// In-process races: many tasks registering and moving pointers at once.
@Suite("Concurrency")
struct ConcurrencyTests {
    @Test(arguments: Backends.allFixtures())
    func concurrentRegistrationsGetDistinctConsecutiveNumbers(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        let shared = MLModelRegistry(store: store)
        let tasks = 8
        let perTask = 25
        let numbers = try await withThrowingTaskGroup(of: [UInt32].self) { group in
            for task in 0..<tasks {
                // Half the tasks share one registry (and its cache); the others each have their own.
                let registry = task % 2 == 0 ? shared : MLModelRegistry(store: store)
                group.addTask {
                    var mine: [UInt32] = []
                    for index in 0..<perTask {
                        // Some weights are shared between tasks, so reference counts race too.
                        let weights = index % 5 == 0 ? "shared-\(index)" : "task\(task)-\(index)"
                        let version = try await registry.register(
                            MLRegistration(model: "raced", createdBy: "task\(task)", tags: ["task": "\(task)"]),
                            weights: bytes(weights))
                        mine.append(version.version)
                    }
                    return mine
                }
            }
            var all: [UInt32] = []
            for try await mine in group {
                #expect(mine == mine.sorted(), "one task's numbers increase")
                all += mine
            }
            return all
        }
        let total = tasks * perTask
        #expect(numbers.count == total)
        #expect(Set(numbers).count == total, "no duplicate numbers")
        #expect(numbers.sorted() == Array(1...UInt32(total)))

        let fresh = MLModelRegistry(store: store)
        let model = try await fresh.model("raced")
        #expect(model.latestVersion == UInt32(total))
        #expect(model.activeVersion != nil)
        let versions = try await fresh.allVersions(of: "raced")
        #expect(versions.map(\.version) == Array(1...UInt32(total)))
        for task in 0..<tasks {
            #expect(versions.filter { $0.createdBy == "task\(task)" }.count == perTask)
        }

        let events = try await allEvents(fresh, "raced")
        let registered = events.filter { $0.kind == .registered }
        #expect(registered.count == total)
        #expect(Set(registered.compactMap(\.version)) == Set(1...UInt32(total)))
        #expect(events.map(\.sequence) == Array(1...UInt64(events.count)))
        #expect(model.eventCount == UInt64(events.count))
        // The last activation is what is active.
        #expect(events.last { $0.kind == .activated }?.version == model.activeVersion)

        // Every blob's reference count equals the versions that use it.
        var uses: [String: Int] = [:]
        for version in versions { uses[version.weights.sha256, default: 0] += 1 }
        for (sha, count) in uses {
            #expect(try await usage(store, sha)?.references == count, "references of \(sha)")
        }
        #expect(Set(try await allBlobs(store).map(\.sha256)) == Set(uses.keys))
        for version in versions.prefix(10) {
            _ = try await fresh.weightsData(of: "raced", version: version.version)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func racingAliasCASHasExactlyOneWinner(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        let setup = MLModelRegistry(store: store)
        for _ in 0..<9 { try await register(setup, "spam") }
        try await setup.setAlias("champion", of: "spam", to: 1)
        let eventsBefore = try await setup.model("spam").eventCount

        enum Outcome: Sendable { case won(UInt32), conflict(UInt32?), other(String) }
        let outcomes = await withTaskGroup(of: Outcome.self) { group in
            for target in UInt32(2)...9 {
                let registry = target % 2 == 0 ? setup : MLModelRegistry(store: store)
                group.addTask {
                    do {
                        try await registry.setAlias(
                            "champion", of: "spam", to: target, expecting: .pointsAt(1), by: "racer\(target)")
                        return .won(target)
                    } catch let error as MLRegistryError where error.code == .aliasConflict {
                        return .conflict(error.version)
                    } catch {
                        return .other("\(error)")
                    }
                }
            }
            var all: [Outcome] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let winners = outcomes.compactMap { if case .won(let v) = $0 { v } else { nil } }
        let conflicts = outcomes.compactMap { if case .conflict(let v) = $0 { v } else { nil } }
        let others = outcomes.compactMap { if case .other(let e) = $0 { e } else { nil } }
        #expect(others.isEmpty)
        #expect(winners.count == 1)
        #expect(conflicts.count == 7)
        let winner = try #require(winners.first)
        #expect(conflicts.allSatisfy { $0 == winner }, "losers are told where the alias points now")
        let fresh = MLModelRegistry(store: store)
        #expect(try await fresh.version(of: "spam", alias: "champion")?.version == winner)
        let moves = try await fresh.history(of: "spam", MLHistoryQuery(after: eventsBefore)).events
        #expect(moves.count == 1)
        #expect(moves.first?.kind == .aliasMoved)
        #expect(moves.first?.version == winner)
        #expect(moves.first?.previousVersion == 1)
        #expect(moves.first?.actor == "racer\(winner)")
    }

    @Test(arguments: Backends.allFixtures())
    func racingAbsentCASHasExactlyOneWinner(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        let setup = MLModelRegistry(store: store)
        for _ in 0..<6 { try await register(setup, "spam") }
        enum Outcome: Sendable { case won(UInt32), conflict(UInt32?), other(String) }
        let results = await withTaskGroup(of: Outcome.self) { group in
            for target in UInt32(1)...6 {
                group.addTask {
                    let registry = MLModelRegistry(store: store)
                    do {
                        try await registry.setAlias("staging", of: "spam", to: target, expecting: .absent)
                        return .won(target)
                    } catch let error as MLRegistryError where error.code == .aliasConflict {
                        return .conflict(error.version)
                    } catch {
                        return .other("\(error)")
                    }
                }
            }
            var all: [Outcome] = []
            for await result in group { all.append(result) }
            return all
        }
        let winners = results.compactMap { if case .won(let v) = $0 { v } else { nil } }
        let conflicts = results.compactMap { if case .conflict(let v) = $0 { v } else { nil } }
        let others = results.compactMap { if case .other(let e) = $0 { e } else { nil } }
        // A loser is told the alias is taken, and where it points; any other error is a defect, not a lost race.
        #expect(others.isEmpty, "\(others)")
        #expect(winners.count == 1)
        #expect(conflicts.count == 5)
        let winner = try #require(winners.first)
        #expect(conflicts.allSatisfy { $0 == winner }, "losers are told where the alias points now: \(conflicts)")
        #expect(try await setup.model("spam").aliases == ["staging": winner])
    }

    @Test(arguments: Backends.allFixtures())
    func concurrentWorkOnDifferentModelsDoesNotInterfere(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        let registry = MLModelRegistry(store: store)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for model in 0..<6 {
                group.addTask {
                    for _ in 0..<10 { try await register(registry, "model-\(model)", weights: "same for all") }
                    try await registry.archive("model-\(model)", version: 1)
                    try await registry.setAlias("champion", of: "model-\(model)", to: 5)
                }
            }
            try await group.waitForAll()
        }
        let summaries = try await registry.summaries()
        #expect(summaries.map(\.name) == (0..<6).map { "model-\($0)" })
        #expect(summaries.allSatisfy { $0.totalVersions == 10 && $0.archivedVersions == 1 && $0.activeVersion == 10 })
        let sha = MLBlobHasher.sha256(of: bytes("same for all"))
        #expect(try await usage(store, sha)?.references == 60)
        #expect(try await allBlobs(store).map(\.sha256) == [sha])
    }

    @Test(arguments: Backends.allFixtures())
    func activateRacingArchiveNeverLeavesAnArchivedVersionActive(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        let registry = MLModelRegistry(store: store)
        try await register(registry, "spam")
        for round in 0..<20 {
            let number = try await register(registry, "spam", activate: false).version
            // The loser fails because the winner got there first, and says so; any other error fails the test.
            async let activated: Bool = {
                do { try await MLModelRegistry(store: store).activate("spam", version: number); return true } catch {
                    #expect((error as? MLRegistryError)?.code == .versionArchived, "round \(round): activate failed with \(error)")
                    return false
                }
            }()
            async let archived: Bool = {
                do { try await MLModelRegistry(store: store).archive("spam", version: number); return true } catch {
                    #expect((error as? MLRegistryError)?.code == .versionInUse, "round \(round): archive failed with \(error)")
                    return false
                }
            }()
            let (didActivate, didArchive) = await (activated, archived)
            #expect(didActivate != didArchive, "round \(round): exactly one of activate and archive wins")
            let model = try await registry.model("spam")
            let version = try await registry.version("spam", number)
            #expect(!(model.activeVersion == number && version.archived), "round \(round)")
            #expect(version.archived == didArchive)
            if didActivate {
                try await registry.activate("spam", version: 1)  // so the next round starts alike
            }
        }
        let model = try await registry.model("spam")
        let archivedCount = try await registry.allVersions(of: "spam").filter(\.archived).count
        #expect(model.archivedCount == archivedCount)
    }

    @Test(arguments: Backends.allFixtures())
    func registeringSharedBytesWhileTheirWeightsAreDeletedKeepsThemReadable(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        let registry = MLModelRegistry(store: store)
        try await register(registry, "serving", weights: "serving")
        for round in 0..<15 {
            let payload = "contended-\(round)"
            let old = try await register(registry, "old", weights: payload, activate: false)
            try await registry.archive("old", version: old.version)
            async let deleted = registry.deleteWeights("old", version: old.version)
            async let added = MLModelRegistry(store: store).register(
                MLRegistration(model: "new"), weights: bytes(payload))
            let (_, version) = try await (deleted, added)
            #expect(try await registry.weightsData(of: "new", version: version.version) == bytes(payload),
                    "round \(round)")
            #expect(try await usage(store, version.weights.sha256)?.references == 1, "round \(round)")
        }
    }

    @Test(arguments: Backends.allFixtures(), [0, 1, 2])
    func smallCachesStayCorrect(_ fixture: MLStoreFixture, _ capacity: Int) async throws {
        let store = try await fixture.makeStore()
        var configuration = MLModelRegistry.Configuration()
        configuration.cacheCapacity = capacity
        let registry = MLModelRegistry(store: store, configuration: configuration)
        let other = MLModelRegistry(store: store, configuration: configuration)
        for round in 1...4 {
            for model in ["a", "b", "c"] {
                try await register(registry, model)
                #expect(try await registry.activeVersion(of: model)?.version == UInt32(round))
                #expect(try await other.activeVersion(of: model)?.version == UInt32(round))
            }
        }
        for model in ["a", "b", "c"] {
            try await other.activate(model, version: 2)
            try await other.updateVersion(model, version: 2, description: "via other")
        }
        for model in ["a", "b", "c"] {
            let active = try await registry.activeVersion(of: model)
            #expect(active?.version == 2)
            #expect(active?.description == "via other")
            #expect(try await registry.model(model).activeVersion == 2)
        }
    }
}
