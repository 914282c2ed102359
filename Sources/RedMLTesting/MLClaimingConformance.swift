import RedMLPersistence

/// The behaviours every ``MLIndexClaiming`` backend must show, run by each
/// backend's tests with two handles on one fresh store, as two processes
/// would have (two stores on one SQLite file, two pools on one PostgreSQL schema).
public enum MLClaimingConformance {
    /// Runs a case's body with two handles on one fresh, empty store.
    public typealias Fixture = @Sendable (
        _ body: @Sendable (any MLIndexClaiming, any MLIndexClaiming) async throws -> Void
    ) async throws -> Void

    /// One case: a name, and a body that throws ``MLConformanceFailure`` when the backend misbehaves.
    public struct Case: Sendable, CustomStringConvertible {
        /// A short, stable name.
        public let name: String
        let run: @Sendable (any MLIndexClaiming, any MLIndexClaiming) async throws -> Void

        /// Runs the case on the stores `fixture` provides.
        public func run(_ fixture: Fixture) async throws {
            try await fixture(run)
        }

        /// The case's name.
        public var description: String { name }
    }

    /// Every case.
    public static let cases: [Case] = [
        Case(name: "claim.eachEntryExactlyOnce") { first, second in
            let entries = 200
            var batch = MLBatch()
            for index in 0..<entries {
                let key = String(index + 100_000)
                batch.put(namespace: MLNamespace.jobs, key: "record-\(key)", value: "free")
                batch.put(namespace: "ready", key: "q/\(key)", value: "record-\(key)")
            }
            try await first.commit(batch)
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for claimer in 0..<8 {
                    let store = claimer.isMultiple(of: 2) ? first : second
                    group.addTask { try await drain(store, claimer: claimer) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            try expectEqual(claimed.count, entries, "entries claimed")
            try expectEqual(Set(claimed).count, entries, "distinct entries claimed")
            let marked = try await first.list(namespace: MLNamespace.jobs).filter { $0.value.hasPrefix("claimer ") }
            try expectEqual(marked.count, entries, "records marked by a claimer")
            try expectEqual(try await second.list(namespace: "ready").count, 0, "entries left")
        },
        Case(name: "claim.keepsToPrefixAndRecords") { store, _ in
            var batch = MLBatch()
            batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
            batch.put(namespace: "ready", key: "p/1", value: "a")
            batch.put(namespace: "ready", key: "p/2", value: "missing")
            batch.put(namespace: "ready", key: "p/3", value: "a")
            batch.put(namespace: "ready", key: "p0", value: "a")  // after the prefix "p/" in byte order
            try await store.commit(batch)
            let (_, seen) = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 10, recordNamespace: MLNamespace.jobs
            ) { candidates in (MLBatch(), candidates.map { "\($0.entry.key)=\($0.record.value)" }) }
            try expectEqual(seen, ["p/1=A", "p/3=A"], "candidates under p/")
            let (_, first) = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
            ) { candidates in (MLBatch(), candidates.map(\.entry.key)) }
            try expectEqual(first, ["p/1"], "candidates with limit 1")
        },
        Case(name: "claim.returnsTheBatchRevision") { store, _ in
            var batch = MLBatch()
            batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
            batch.put(namespace: "ready", key: "p/1", value: "a")
            try await store.commit(batch)
            let (revision, _) = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
            ) { candidates -> (MLBatch, Int) in
                var batch = MLBatch()
                batch.delete(namespace: "ready", key: "p/1")
                batch.put(namespace: MLNamespace.jobs, key: "a", value: "taken", if: .revision(candidates[0].record.revision))
                return (batch, candidates.count)
            }
            try expectEqual(
                try await store.entry(namespace: MLNamespace.jobs, key: "a"),
                MLEntry(key: "a", value: "taken", revision: revision), "jobs/a after the claim")
            let (_, count) = try await store.claim(
                namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
            ) { candidates in (MLBatch(), candidates.count) }
            try expectEqual(count, 0, "candidates once the entry is gone")
        },
        Case(name: "claim.failedBatchWritesNothing") { store, _ in
            var batch = MLBatch()
            batch.put(namespace: MLNamespace.jobs, key: "a", value: "A")
            batch.put(namespace: "ready", key: "p/1", value: "a")
            try await store.commit(batch)
            try await expectThrows(code: "conflict", "a claim whose batch fails its condition") {
                _ = try await store.claim(
                    namespace: "ready", prefix: "p/", limit: 1, recordNamespace: MLNamespace.jobs
                ) { candidates -> (MLBatch, Int) in
                    var batch = MLBatch()
                    batch.delete(namespace: "ready", key: "p/1")
                    batch.put(namespace: MLNamespace.jobs, key: "a", value: "stale", if: .revision(MLRevision(rawValue: 999_999)))
                    return (batch, candidates.count)
                }
            }
            try expectEqual(try await store.get(namespace: "ready", key: "p/1"), "a", "ready/p/1 after the failed claim")
            try expectEqual(try await store.get(namespace: MLNamespace.jobs, key: "a"), "A", "jobs/a after the failed claim")
            let error = try await expectThrows(code: "invalid_argument", "a claim with limit 0") {
                _ = try await store.claim(
                    namespace: "ready", prefix: "p/", limit: 0, recordNamespace: MLNamespace.jobs
                ) { candidates in (MLBatch(), candidates.count) }
            }
            guard error.description.contains("limit") else {
                throw MLConformanceFailure("the error for limit 0 does not name the limit: \(error)")
            }
        },
        Case(name: "claim.startsAfterTheCursor") { store, _ in
            var batch = MLBatch()
            for key in ["p/9", "q/1", "q/2", "q/3", "q/4", "r/1"] {
                batch.put(namespace: MLNamespace.jobs, key: "record-\(key)", value: "free")
                batch.put(namespace: "ready", key: key, value: "record-\(key)")
            }
            try await store.commit(batch)
            for (after, expected) in [
                ("q/2", ["q/3", "q/4"]), ("q/", ["q/1", "q/2", "q/3", "q/4"]), ("a", ["q/1", "q/2", "q/3", "q/4"]),
                ("q/4", []), ("z", []),
            ] as [(String, [String])] {
                let (_, keys) = try await store.claim(
                    namespace: "ready", prefix: "q/", after: after, limit: 10, recordNamespace: MLNamespace.jobs
                ) { candidates in (MLBatch(), candidates.map(\.entry.key)) }
                guard keys == expected else {
                    throw MLConformanceFailure("a claim under q/ after \(after) picked \(keys), expected \(expected)")
                }
            }
            // Two entries per claim, each starting after the last one picked: every entry once, in order.
            var seen: [String] = []
            var cursor: String?
            while true {
                let (_, keys) = try await store.claim(
                    namespace: "ready", prefix: "q/", after: cursor, limit: 2, recordNamespace: MLNamespace.jobs
                ) { candidates in (MLBatch(), candidates.map(\.entry.key)) }
                guard let last = keys.last else { break }
                seen += keys
                cursor = last
            }
            guard seen == ["q/1", "q/2", "q/3", "q/4"] else {
                throw MLConformanceFailure("paging claims through q/ two at a time picked \(seen)")
            }
        },
    ]

    /// Claims 5 entries at a time until none is left; each claim deletes the
    /// entries and marks their records, conditional on the revisions read.
    private static func drain(_ store: any MLIndexClaiming, claimer: Int) async throws -> [String] {
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
}
