import RedML
import Synchronization
import Testing

@testable import RedMLPersistence

/// The in-memory store builds a claim's batch outside its lock: what it picked
/// is reserved meanwhile, and a write that lands in between makes it pick again.
/// The bodies below act, synchronously and through the store's internals, as a
/// second claimer or writer would in that gap.
@Suite("In-memory claim reservations")
struct InMemoryClaimReservationTests {
    private static func storeWithTwoEntries() async throws -> InMemoryMLPersistence {
        let store = InMemoryMLPersistence()
        var batch = MLBatch()
        for key in ["1", "2"] {
            batch.put(namespace: MLNamespace.jobs, key: "record-\(key)", value: "free")
            batch.put(namespace: "ready", key: "p/\(key)", value: "record-\(key)")
        }
        try await store.commit(batch)
        return store
    }

    /// A batch that takes every candidate: deletes its entry and marks its record.
    private static func take(_ candidates: [MLClaimCandidate], as claimer: String) -> MLBatch {
        var batch = MLBatch()
        for candidate in candidates {
            batch.delete(namespace: "ready", key: candidate.entry.key)
            batch.put(namespace: MLNamespace.jobs, key: candidate.record.key, value: claimer)
        }
        return batch
    }

    @Test("a second claim while one is building its batch picks past the first one's entries")
    func inFlightEntriesAreSkipped() async throws {
        let store = try await Self.storeWithTwoEntries()
        let (_, picks) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
        ) { candidates in
            let second = store.state.withLock { state in
                let (picked, passedOver) = state.pickAndReserve(
                    "ready", prefix: "p/", after: nil, limit: 10, recordNamespace: MLNamespace.jobs)
                state.release("ready", picked)
                return (picked.map(\.entry.key), passedOver)
            }
            return (Self.take(candidates, as: "first"), (candidates.map(\.entry.key), second))
        }
        #expect(picks.0 == ["p/1"])
        #expect(picks.1.0 == ["p/2"])
        #expect(picks.1.1 == ["p/1"])
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "record-1") == "first")
        #expect(try await store.list(namespace: "ready").map(\.key) == ["p/2"])
        #expect(store.state.withLock { $0.claimReservations.isEmpty })
    }

    @Test("a write to a picked record before the claim commits makes the claim pick again, even with no conditions")
    func writeInTheGapMakesTheClaimPickAgain() async throws {
        let store = try await Self.storeWithTwoEntries()
        let runs = Mutex<[String]>([])
        let (_, runCount) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
        ) { candidates in
            let count = runs.withLock { seen in
                seen.append(candidates.map { "\($0.entry.key)=\($0.record.value)" }.joined())
                return seen.count
            }
            if count == 1 {
                // A cancel, say, rewriting the record this claim picked.
                store.state.withLock { state in
                    let revision = state.nextRevision()
                    state.put(MLNamespace.jobs, "record-1", "cancelled", revision: revision)
                    state.changeCount += 1
                }
            }
            return (Self.take(candidates, as: "claimer"), count)
        }
        #expect(runCount == 2)
        #expect(runs.withLock { $0 } == ["p/1=free", "p/1=cancelled"])
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "record-1") == "claimer")
        #expect(store.state.withLock { $0.claimReservations.isEmpty })
    }

    @Test("an entry removed before the claim commits is not taken; the claim picks the next one")
    func removedEntryIsNotTaken() async throws {
        let store = try await Self.storeWithTwoEntries()
        let (_, taken) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
        ) { candidates in
            if candidates.first?.entry.key == "p/1" {
                store.state.withLock { state in
                    state.delete("ready", "p/1")
                    state.changeCount += 1
                }
            }
            return (Self.take(candidates, as: "claimer"), candidates.map(\.entry.key))
        }
        #expect(taken == ["p/2"])
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "record-1") == "free")
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "record-2") == "claimer")
    }

    @Test("a claim that would come up short because another claim holds entries waits, and takes them when that claim leaves them")
    func shortPickWaitsForHeldEntries() async throws {
        let store = try await Self.storeWithTwoEntries()
        // Another claim in flight holds both entries, as a pool that does not run their kind would.
        let held = store.state.withLock { state in
            state.pickAndReserve("ready", prefix: "p/", after: nil, limit: 2, recordNamespace: MLNamespace.jobs).candidates
        }
        #expect(held.count == 2)
        let returned = Mutex(false)
        let claim = Task {
            let (_, keys) = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
            ) { candidates in (Self.take(candidates, as: "waiter"), candidates.map(\.entry.key)) }
            returned.withLock { $0 = true }
            return keys
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!returned.withLock { $0 }, "the claim returned, empty, while another claim held every entry")
        store.state.withLock { $0.release("ready", held) }  // the holder passes them over
        #expect(try await claim.value == ["p/1"])
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "record-1") == "waiter")
    }

    @Test("a body that throws leaves its entries free for the next claim")
    func throwingBodyReleasesItsEntries() async throws {
        struct Refused: Error {}
        let store = try await Self.storeWithTwoEntries()
        await #expect(throws: Refused.self) {
            _ = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 2, recordNamespace: MLNamespace.jobs
            ) { _ -> (MLBatch, Int) in throw Refused() }
        }
        #expect(store.state.withLock { $0.claimReservations.isEmpty })
        let (_, keys) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 2, recordNamespace: MLNamespace.jobs
        ) { candidates in (MLBatch(), candidates.map(\.entry.key)) }
        #expect(keys == ["p/1", "p/2"])
    }
}
