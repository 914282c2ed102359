import Foundation
import RedML
import RedMLTesting
import Testing

@testable import RedMLQueue

/// Claims that pick index entries and commit the batch built from them in one
/// write transaction: the shared claiming conformance, on two stores over one
/// file (as two processes would have), and what only SQLite can be given.
@Suite("SQLite claims")
struct ClaimTests {
    @Test(arguments: MLClaimingConformance.cases)
    func conforms(_ conformance: MLClaimingConformance.Case) async throws {
        try await conformance.run { body in
            let directory = try TemporaryDirectory()
            let first = try SQLiteMLPersistence(path: directory.path("claims.sqlite"))
            let second = try SQLiteMLPersistence(path: directory.path("claims.sqlite"))
            try await body(first, second)
            try first.close()
            try second.close()
        }
    }

    /// The queue keeps the jobs it submitted, to skip decoding them again; a
    /// record edited since, even without a new revision, must be read as stored.
    @Test("a job record edited by hand, its revision untouched, is read as it is stored now")
    func aHandEditedRecordIsReadAsStored() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("claims.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        let queue = MLJobQueue(store: store)
        let job = try await queue.submitJob(MLJobSubmission(kind: .train, target: "before"))
        let stored = try #require(try await store.entry(namespace: MLNamespace.jobs, key: job.key))
        let edited = stored.value.replacingOccurrences(of: #""target":"before""#, with: #""target":"after""#)
        #expect(edited != stored.value)
        try await SQLiteShell.run(path, "UPDATE ml_kv SET value = '\(edited)' WHERE namespace = 'jobs' AND key = '\(job.key)'")
        #expect(try await store.entry(namespace: MLNamespace.jobs, key: job.key)?.revision == stored.revision)
        #expect(try await queue.job(job.id)?.target == "after")
        try store.close()
    }

    @Test("a claim offers a record that is not UTF-8 with its corruption, and counts it against the limit")
    func claimOffersUnreadableRecordsWithTheirCorruption() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("claims.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        var batch = MLBatch()
        batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
        batch.put(namespace: "ready", key: "p/1", value: "bad")
        batch.put(namespace: "ready", key: "p/2", value: "a")
        batch.put(namespace: "ready", key: "p/3", value: "gone")  // names no record: not offered
        batch.put(namespace: "ready", key: "p/4", value: "a")
        try await store.commit(batch)
        try await SQLiteShell.run(path, "INSERT INTO ml_kv VALUES('jobs','bad',x'fffe',1)")
        let claim = { (limit: Int) in
            try await store.claim(namespace: "ready", prefix: "p/", limit: limit, recordNamespace: MLNamespace.jobs) {
                candidates in (MLBatch(), candidates.map { "\($0.entry.key)=\($0.record.value)" })
            }.1
        }
        #expect(try await claim(2) == ["p/1=", "p/2=A"])
        #expect(try await claim(3) == ["p/1=", "p/2=A", "p/4=A"])
        let (_, corruption) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
        ) { candidates in (MLBatch(), candidates.map(\.corruption)) }
        #expect(corruption.first??.code == "corruption")
        #expect(corruption.first??.description.contains("jobs/bad") == true, "\(corruption)")
        try store.close()
    }

    @Test("a queue drops the ready entry of a job record that is not UTF-8 once, and runs the jobs behind it")
    func aQueueDropsTheEntryOfAnUnreadableRecord() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("claims.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        let queue = MLJobQueue(store: store)
        let damaged = try await queue.submitJob(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
        let good = try await queue.submit(MLJobSubmission(kind: .train, target: "good"))
        try await SQLiteShell.run(path, "UPDATE ml_kv SET value = x'fffe' WHERE namespace = 'jobs' AND key = '\(damaged.key)'")

        let first = try await queue.claim(queue: "default", worker: "w", leaseMs: 10_000, limit: 2)
        #expect(first.map(\.job.id) == [good])
        let ready = try await store.page(namespace: MLNamespace.jobReady, MLPageRequest(prefix: "", limit: 10))
        #expect(ready.entries.isEmpty, "the damaged job's entry must be gone: \(ready.entries.map(\.key))")
        // The record stays, for integrity checks to report.
        let error = try await #require(throws: MLPersistenceError.self) {
            try await store.entry(namespace: MLNamespace.jobs, key: damaged.key)
        }
        #expect(error.code == "corruption")
        try store.close()
    }
}
