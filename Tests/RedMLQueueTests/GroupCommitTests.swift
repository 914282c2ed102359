import Foundation
import RedML
@testable import RedMLQueue
import Testing

/// Job transitions that arrive while commits are in flight share the next commit.
@Suite("Group commits")
struct GroupCommitTests {
    /// A store whose first commit waits for `release`, counting every commit it is asked for.
    final class HeldStore: Sendable {
        let store = InMemoryMLPersistence()
        let commits = Locked(0)
        let release = Gate()

        func commit(_ batch: MLBatch) async throws -> MLRevision {
            let number = commits.withLock { $0 += 1; return $0 }
            if number == 1 { await release.wait() }
            return try await store.commit(batch)
        }
    }

    static func put(_ key: String, if condition: MLCondition = .always) -> MLBatch {
        var batch = MLBatch()
        batch.put(namespace: "jobs", key: key, value: "{\"key\":\"\(key)\"}", if: condition)
        return batch
    }

    @Test("a queue on a store with one writer commits its transitions in one lane; elsewhere in four")
    func lanesFollowTheStore() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redml-lanes-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = try SQLiteMLPersistence(path: directory.appendingPathComponent("lanes.sqlite").path)
        #expect(MLJobQueue(store: sqlite).transitions.maximumInFlight == 1)
        try sqlite.close()
        #expect(MLJobQueue(store: InMemoryMLPersistence()).transitions.maximumInFlight == 4)
    }

    @Test func transitionsArrivingDuringACommitShareTheNextOne() async throws {
        let held = HeldStore()
        let group = GroupCommit(maximumInFlight: 1) { try await held.commit($0) }
        let first = Task { try await group.commit(Self.put("first")) }
        try await eventually("the first commit to reach the store") { held.commits.value == 1 }
        let later = (0..<10).map { index in Task { try await group.commit(Self.put("later-\(index)")) } }
        try await eventually("ten transitions to wait") { group.waitingCount == 10 }
        held.release.open()

        let firstRevision = try await first.value
        var revisions: [MLRevision] = []
        for task in later { revisions.append(try await task.value) }
        // One commit for the first, one for the ten that waited behind it.
        #expect(held.commits.value == 2)
        #expect(try await held.store.entry(namespace: "jobs", key: "first")?.revision == firstRevision)
        for (index, revision) in revisions.enumerated() {
            #expect(try await held.store.entry(namespace: "jobs", key: "later-\(index)")?.revision == revision)
        }
        #expect(Set(revisions).count == 1)
        #expect(revisions[0] > firstRevision)
        // Nothing waits now: the next transition commits alone, at once.
        _ = try await group.commit(Self.put("alone"))
        #expect(held.commits.value == 3)
    }

    @Test("one commit at a time while they flow; an arrival after a stall starts another beside it")
    func aStalledCommitOpensAnotherLane() async throws {
        let held = HeldStore()
        defer { held.release.open() }  // whatever happens, nothing is left waiting
        // A stall window no loaded machine can overrun before the second arrives.
        let group = GroupCommit(maximumInFlight: 2, whileFlowing: 1, stallAfter: .seconds(30)) {
            try await held.commit($0)
        }
        let first = Task { try await group.commit(Self.put("first")) }
        try await eventually("the first commit to reach the store") { held.commits.value == 1 }
        // Arriving while the first has run for less than the stall window: it waits for it.
        let waiting = Task { try await group.commit(Self.put("waiting")) }
        try await eventually("the second transition to wait") { group.waitingCount == 1 }
        #expect(held.commits.value == 1)
        held.release.open()
        _ = try await first.value
        _ = try await waiting.value
        #expect(held.commits.value == 2, "the waiting one went in the next commit")

        // A commit that stalls with nothing waiting: the next arrival starts one beside it at once.
        let stalling = HeldStore()
        defer { stalling.release.open() }
        let quiet = GroupCommit(maximumInFlight: 2, whileFlowing: 1, stallAfter: .milliseconds(50)) {
            try await stalling.commit($0)
        }
        let stalled = Task { try await quiet.commit(Self.put("stalled")) }
        try await eventually("the stalled commit to reach the store") { stalling.commits.value == 1 }
        try await Task.sleep(for: .milliseconds(100))
        let beside = Task { try await quiet.commit(Self.put("beside")) }
        try await eventually("a commit beside the stalled one") { stalling.commits.value == 2 }
        _ = try await beside.value
        #expect(try await stalling.store.entry(namespace: "jobs", key: "stalled") == nil, "the first is still held")
        stalling.release.open()
        _ = try await stalled.value
    }

    @Test("a transition waiting behind a stalled commit gets a commit of its own, with no later arrival")
    func aLoneWaiterEscapesAStall() async throws {
        let held = HeldStore()
        defer { held.release.open() }
        let group = GroupCommit(maximumInFlight: 2, whileFlowing: 1, stallAfter: .milliseconds(50)) {
            try await held.commit($0)
        }
        let first = Task { try await group.commit(Self.put("first")) }
        try await eventually("the first commit to reach the store") { held.commits.value == 1 }
        let waiting = Task { try await group.commit(Self.put("waiting")) }
        // Nothing else arrives: after 50 ms of the first's stall, the waiting one commits anyway.
        try await eventually("the waiting one to get a commit of its own") { held.commits.value == 2 }
        let revision = try await waiting.value
        #expect(held.commits.value == 2)
        #expect(try await held.store.entry(namespace: "jobs", key: "waiting")?.revision == revision)
        #expect(try await held.store.entry(namespace: "jobs", key: "first") == nil, "the first is still held")
        // That extra commit ended with its group: one more arrival waits for a stall check again.
        let later = Task { try await group.commit(Self.put("later")) }
        try await eventually("the later one to get a commit of its own") { held.commits.value == 3 }
        _ = try await later.value
        held.release.open()
        _ = try await first.value
    }

    @Test func aConflictInAGroupFailsOnlyItsOwnTransition() async throws {
        let held = HeldStore()
        try await held.store.put(namespace: "jobs", key: "taken", value: "{}")
        let group = GroupCommit(maximumInFlight: 1) { try await held.commit($0) }
        let first = Task { try await group.commit(Self.put("first")) }
        try await eventually("the first commit to reach the store") { held.commits.value == 1 }
        let good = (0..<4).map { index in Task { try await group.commit(Self.put("good-\(index)")) } }
        try await eventually("four transitions to wait") { group.waitingCount == 4 }
        let conflicting = Task { try await group.commit(Self.put("taken", if: .absent)) }
        try await eventually("five transitions to wait") { group.waitingCount == 5 }
        held.release.open()

        _ = try await first.value
        for (index, task) in good.enumerated() {
            let revision = try await task.value
            #expect(try await held.store.entry(namespace: "jobs", key: "good-\(index)")?.revision == revision)
        }
        do {
            _ = try await conflicting.value
            Issue.record("a put-if-absent of an existing key committed")
        } catch MLPersistenceError.conflict {
            // Its own conflict, as if it had committed alone.
        }
        #expect(try await held.store.get(namespace: "jobs", key: "taken") == "{}")
        // The first, the failed group, then each of the five on its own.
        #expect(held.commits.value == 7)
    }
}
