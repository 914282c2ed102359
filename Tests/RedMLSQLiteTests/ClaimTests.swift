import Foundation
import RedML
import Testing

/// Claims that pick index entries and commit the batch built from them in one
/// write transaction, between two stores on one file (as two processes would have).
@Suite("SQLite claims")
struct ClaimTests {
    @Test("claimers on two stores over one file take every entry exactly once, without conflicts")
    func claimersTakeEachEntryOnce() async throws {
        let directory = try TemporaryDirectory()
        let first = try SQLiteMLPersistence(path: directory.path("claims.sqlite"))
        let second = try SQLiteMLPersistence(path: directory.path("claims.sqlite"))
        let entries = 300
        var batch = MLBatch()
        for index in 0..<entries {
            let key = String(format: "%05d", index)
            batch.put(namespace: MLNamespace.jobs, key: "record-\(key)", value: "free")
            batch.put(namespace: "ready", key: "q/\(key)", value: "record-\(key)")
        }
        try await first.commit(batch)
        let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
            for claimer in 0..<8 {
                let store = claimer.isMultiple(of: 2) ? first : second
                group.addTask { try await Self.drain(store, claimer: claimer) }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == entries)
        #expect(Set(claimed).count == entries)
        let marked = try await first.list(namespace: MLNamespace.jobs).filter { $0.value.hasPrefix("claimer ") }
        #expect(marked.count == entries)
        #expect(try await first.list(namespace: "ready").isEmpty)
        try first.close()
        try second.close()
    }

    /// Claims 5 entries at a time until none is left; each claim deletes the
    /// entries and marks their records, conditional on the revisions read.
    private static func drain(_ store: SQLiteMLPersistence, claimer: Int) async throws -> [String] {
        var mine: [String] = []
        while true {
            let (_, keys) = try await store.claim(
                namespace: "ready", prefix: "q/", limit: 5, recordNamespace: MLNamespace.jobs
            ) { candidates -> (MLBatch, [String]) in
                var batch = MLBatch()
                for candidate in candidates {
                    batch.delete(namespace: "ready", key: candidate.entry.key, if: .revision(candidate.entry.revision))
                    batch.put(namespace: MLNamespace.jobs, key: candidate.record.key, value: "claimer \(claimer)",
                              if: .revision(candidate.record.revision))
                }
                return (batch, candidates.map(\.entry.key))
            }
            if keys.isEmpty { return mine }
            mine += keys
        }
    }

    @Test("a claim passes over entries past the prefix, entries without a record and records that are not UTF-8")
    func claimKeepsToPrefixAndReadableRecords() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("claims.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        var batch = MLBatch()
        batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
        batch.put(namespace: "ready", key: "p/1", value: "a")
        batch.put(namespace: "ready", key: "p/2", value: "missing")
        batch.put(namespace: "ready", key: "p/3", value: "bad")
        batch.put(namespace: "ready", key: "p/4", value: "a")
        batch.put(namespace: "ready", key: "p0", value: "a")  // after the prefix "p/" in byte order
        try await store.commit(batch)
        try await SQLiteShell.run(path, "INSERT INTO ml_kv VALUES('jobs','bad',x'fffe',1)")
        let (_, seen) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 10, recordNamespace: MLNamespace.jobs
        ) { candidates in (MLBatch(), candidates.map { "\($0.entry.key)=\($0.record.value)" }) }
        #expect(seen == ["p/1=A", "p/4=A"])
        // The limit counts picked candidates, not the entries passed over on the way.
        let (_, first) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 2, recordNamespace: MLNamespace.jobs
        ) { candidates in (MLBatch(), candidates.map(\.entry.key)) }
        #expect(first == ["p/1", "p/4"])
        try store.close()
    }

    @Test("a claim returns the batch's revision, and with an empty batch the store's current one")
    func claimRevisions() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("claims.sqlite"))
        var batch = MLBatch()
        batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
        batch.put(namespace: "ready", key: "p/1", value: "a")
        try await store.commit(batch)
        let (revision, _) = try await store.claim(
            namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
        ) { candidates -> (MLBatch, Int) in
            var batch = MLBatch()
            batch.put(namespace: MLNamespace.jobs, key: "a", value: "taken", if: .revision(candidates[0].record.revision))
            return (batch, candidates.count)
        }
        #expect(try await store.entry(namespace: MLNamespace.jobs, key: "a")?.revision == revision)
        let (empty, count) = try await store.claim(
            namespace: "ready", prefix: "none/", limit: 1, recordNamespace: MLNamespace.jobs
        ) { candidates in (MLBatch(), candidates.count) }
        #expect(count == 0)
        #expect(empty == (try await store.commit(MLBatch())))
        try store.close()
    }

    @Test("a claim whose batch fails its condition writes nothing, and one with a bad limit is refused")
    func failedClaimWritesNothing() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("claims.sqlite"))
        var batch = MLBatch()
        batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
        batch.put(namespace: "ready", key: "p/1", value: "a")
        try await store.commit(batch)
        await #expect(throws: MLPersistenceError.self) {
            _ = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
            ) { candidates -> (MLBatch, Int) in
                var batch = MLBatch()
                batch.delete(namespace: "ready", key: "p/1")
                batch.put(namespace: MLNamespace.jobs, key: "a", value: "stale", if: .revision(MLRevision(rawValue: 999_999)))
                return (batch, candidates.count)
            }
        }
        #expect(try await store.get(namespace: "ready", key: "p/1") == "a")
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "a") == "A")
        let error = try await #require(throws: MLPersistenceError.self) {
            _ = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 0, recordNamespace: MLNamespace.jobs
            ) { candidates in (MLBatch(), candidates.count) }
        }
        #expect(error.description.contains("limit"), "\(error)")
        try store.close()
    }
}
