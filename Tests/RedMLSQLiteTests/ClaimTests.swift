import Foundation
import RedML
import RedMLTesting
import Testing

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

    @Test("a claim passes over a record that is not UTF-8, and the limit counts only picked candidates")
    func claimPassesOverUnreadableRecords() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("claims.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        var batch = MLBatch()
        batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
        batch.put(namespace: "ready", key: "p/1", value: "bad")
        batch.put(namespace: "ready", key: "p/2", value: "a")
        batch.put(namespace: "ready", key: "p/3", value: "a")
        try await store.commit(batch)
        try await SQLiteShell.run(path, "INSERT INTO ml_kv VALUES('jobs','bad',x'fffe',1)")
        let (_, seen) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 2, recordNamespace: MLNamespace.jobs
        ) { candidates in (MLBatch(), candidates.map { "\($0.entry.key)=\($0.record.value)" }) }
        #expect(seen == ["p/2=A", "p/3=A"])
        try store.close()
    }
}
