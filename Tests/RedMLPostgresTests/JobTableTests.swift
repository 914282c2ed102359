import Foundation
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Synchronization
import Testing

/// `MLJobTableStore` on PostgreSQL, method by method, with hand-made rows
/// (the table never reads a record, so `{}` will do), and the migration that
/// moves the key-value layout's jobs into the table.
@Suite("PostgreSQL job table", .needsPostgres)
struct JobTableTests {
    // MARK: Inserting and reading

    @Test("inserted jobs read back with the insert's one revision, and their first events")
    func insertAndRead() async throws {
        try await withStore { store, _ in
            let jobs = ["a", "b", "c"].map { new(row($0, record: #"{"name":"\#($0)"}"#)) }
            let revision = try inserted(try await store.insertJobs(jobs, notifying: nil))
            for key in ["a", "b", "c"] {
                let record = try #require(try await store.jobRecord(key: key))
                #expect(record == MLJobRecord(key: key, record: #"{"name":"\#(key)"}"#, revision: revision))
                #expect(try await store.jobEvents(key: key) == [#"{"event":1}"#])
            }
            #expect(try await store.jobRecord(key: "nothing") == nil)
            #expect(try await store.jobEvents(key: "nothing") == [])
            // Later inserts take later revisions.
            let next = try inserted(try await store.insertJobs([new(row("d"))], notifying: nil))
            #expect(next.rawValue > revision.rawValue)
        }
    }

    @Test("a live job's unique key makes an insert return that job and insert nothing; a finished holder does not block")
    func uniqueKeys() async throws {
        try await withStore { store, _ in
            let holder = row("holder", uniqueKey: "u", record: #"{"holder":true}"#)
            let first = try inserted(try await store.insertJobs([new(holder)], notifying: nil))

            let outcome = try await store.insertJobs(
                [new(row("other")), new(row("second", uniqueKey: "u"))], notifying: nil)
            guard case .duplicate(let live) = outcome else {
                Issue.record("expected a duplicate, got \(outcome)")
                return
            }
            #expect(live == MLJobRecord(key: "holder", record: #"{"holder":true}"#, revision: first))
            // Nothing of that call was written, not even the job without a unique key.
            #expect(try await store.jobRecord(key: "other") == nil)
            #expect(try await store.jobRecord(key: "second") == nil)
            #expect(try await store.jobEvents(key: "other") == [])

            // A running holder blocks too.
            var running = holder
            running.status = "running"
            running.ready = false
            let started = try await store.writeJobs([MLJobWrite(row: running, expected: first, event: nil)])
            guard case .duplicate(let stillLive) = try await store.insertJobs([new(row("second", uniqueKey: "u"))], notifying: nil)
            else {
                Issue.record("a running holder did not block")
                return
            }
            #expect(stillLive.revision == started)

            // Once it finished, the key is free.
            var finished = running
            finished.status = "completed"
            finished.finishedAtMs = 1_000
            try await store.writeJobs([MLJobWrite(row: finished, expected: started, event: nil)])
            _ = try inserted(try await store.insertJobs([new(row("second", uniqueKey: "u"))], notifying: nil))
            #expect(try await store.jobRecord(key: "second") != nil)
        }
    }

    @Test("a write that makes a job live with a unique key another live job holds conflicts on job_unique, writing nothing")
    func uniqueKeyOnWrite() async throws {
        try await withStore { store, _ in
            let first = try inserted(try await store.insertJobs([
                new(row("holder", uniqueKey: "u")),
                new(row("old", status: "failed", ready: false, finishedAtMs: 1, uniqueKey: "u")),
                new(row("x")),
            ], notifying: nil))
            let error = await #expect(throws: MLPersistenceError.self) {
                try await store.writeJobs([
                    MLJobWrite(row: row("x", record: "x2"), expected: first, event: nil),
                    MLJobWrite(row: row("old", uniqueKey: "u"), expected: first, event: nil),
                ])
            }
            guard case .conflict(namespace: "job_unique", key: "u", expected: .absent, found: first)? = error else {
                Issue.record("expected a conflict on job_unique/u, got \(String(describing: error))")
                return
            }
            #expect(try await store.jobRecord(key: "x")?.record == "{}")
            // Handing the key over within one call is fine, whichever write comes first.
            try await store.writeJobs([
                MLJobWrite(row: row("old", uniqueKey: "u"), expected: first, event: nil),
                MLJobWrite(row: row("holder", status: "completed", ready: false, finishedAtMs: 2, uniqueKey: "u"),
                           expected: first, event: nil),
            ])
            guard case .duplicate(let live) = try await store.insertJobs([new(row("y", uniqueKey: "u"))], notifying: nil)
            else {
                Issue.record("the key handed over did not block")
                return
            }
            #expect(live.key == "old")
        }
    }

    @Test("a job whose key is taken is a conflict, and nothing of the call is written")
    func keyTaken() async throws {
        try await withStore { store, _ in
            let revision = try inserted(try await store.insertJobs([new(row("a"))], notifying: nil))
            let error = await #expect(throws: MLPersistenceError.self) {
                _ = try await store.insertJobs([new(row("b")), new(row("a", record: "second"))], notifying: nil)
            }
            guard case .conflict(namespace: MLNamespace.jobs, key: "a", expected: .absent, found: revision)? = error else {
                Issue.record("expected a conflict on jobs/a at \(revision), got \(String(describing: error))")
                return
            }
            #expect(try await store.jobRecord(key: "b") == nil)
            #expect(try await store.jobRecord(key: "a")?.record == "{}")
        }
    }

    @Test("an insert with a topic notifies a listener on another pool when it commits")
    func insertNotifies() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { listener in
                try await Scratch.withOwnPool(schema: schemas[0]) { sender in
                    try await sender.migrate()
                    let (topics, continuation) = AsyncStream.makeStream(of: String.self)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await listener.listen { continuation.yield($0) } }
                        var iterator = topics.makeAsyncIterator()
                        #expect(await iterator.next() == "")  // the wake-up on connecting
                        _ = try await sender.insertJobs([new(row("a"))], notifying: nil)
                        _ = try await sender.insertJobs([new(row("b"))], notifying: "job_submitted")
                        #expect(await iterator.next() == "job_submitted")
                        // A promotion notifies job_ready.
                        _ = try await sender.insertJobs([new(row("c", ready: false, runAtMs: 5))], notifying: nil)
                        #expect(try await sender.promoteDueJobs(atMs: 10, limit: 10) == (1, nil))
                        #expect(await iterator.next() == "job_ready")
                        group.cancelAll()
                    }
                }
            }
        }
    }

    @Test("ten thousand jobs go in with one insert and out with one write")
    func bigCalls() async throws {
        try await withStore { store, _ in
            let keys = (0..<10_000).map { String(format: "k%05d", $0) }
            let revision = try inserted(try await store.insertJobs(keys.map { new(row($0)) }, notifying: nil))
            let writes = keys.map { key in
                MLJobWrite(row: row(key, status: "completed", ready: false, finishedAtMs: 1, record: "done"),
                           expected: revision, event: MLJobEventRow(key: key, sequence: 2, record: "e2"))
            }
            let written = try await store.writeJobs(writes)
            #expect(try await store.jobRecord(key: "k09999") == MLJobRecord(key: "k09999", record: "done", revision: written))
            #expect(try await store.jobEvents(key: "k00000") == [#"{"event":1}"#, "e2"])
            #expect(try await store.liveJobCounts() == MLLiveJobCounts(readyByQueue: [:], waiting: 0, running: 0))
        }
    }

    @Test("reclaiming space vacuums once enough rows died, not before, and not again for rows it could not remove",
          .timeLimit(.minutes(2)))
    func reclaimingSpace() async throws {
        try await withStore { store, schema in
            // Autovacuum would clean the dead rows on its own schedule (within a minute, on a busy
            // test server), racing the reclaim under test: seen once, when it cleaned them first.
            _ = try await Scratch.textRows(
                "ALTER TABLE \(unescaped: schema).ml_job SET (autovacuum_enabled = false)", columns: 0)
            #expect(try await store.reclaimJobSpace() == false, "an empty table has nothing to reclaim")
            let keys = (0..<4_000).map { String(format: "k%05d", $0) }
            var revision = try inserted(try await store.insertJobs(keys.map { new(row($0)) }, notifying: nil))
            // Four rewrites of every row, each between queued and running as claims and retries do
            // (indexed columns change, so none is a HOT update that page pruning would clean up):
            // 16,000 dead rows, over the threshold and a fifth of the live ones.
            for sequence in 2...5 {
                let running = sequence % 2 == 0
                revision = try await store.writeJobs(keys.map { key in
                    MLJobWrite(row: row(key, status: running ? "running" : "queued", ready: !running,
                                        leaseExpiresAtMs: running ? 10 : nil),
                               expected: revision, event: MLJobEventRow(key: key, sequence: sequence, record: "e"))
                })
            }
            // The server counts dead rows a moment after the commits (its statistics are flushed about once a second).
            let deadline = ContinuousClock.now + .seconds(30)
            var reclaimed = false
            while !reclaimed && ContinuousClock.now < deadline {
                reclaimed = try await store.reclaimJobSpace()
                if !reclaimed { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(reclaimed, "16,000 dead rows were never reclaimed")
            // The table was vacuumed. (How many dead rows it removed depends on the transactions other
            // tests hold open meanwhile: rows they may still see stay.)
            let vacuums = try await Scratch.textRows(
                "SELECT vacuum_count::text FROM pg_stat_user_tables WHERE relid = '\(unescaped: schema).ml_job'::regclass",
                columns: 1)
            #expect(vacuums == ["1"])
            // Nothing died since, so it does not vacuum again, even when rows stay dead.
            #expect(try await store.reclaimJobSpace() == false)
        }
    }

    // MARK: Writing

    @Test("a write takes a new revision and appends its event; a stale one conflicts and nothing of its call is written")
    func conditionalWrites() async throws {
        try await withStore { store, _ in
            let first = try inserted(try await store.insertJobs([new(row("a")), new(row("b"))], notifying: nil))
            let second = try await store.writeJobs([
                MLJobWrite(row: row("a", status: "running", ready: false, leaseExpiresAtMs: 500, record: "a2"),
                           expected: first, event: MLJobEventRow(key: "a", sequence: 2, record: "a-e2"))
            ])
            #expect(second.rawValue > first.rawValue)
            #expect(try await store.jobRecord(key: "a") == MLJobRecord(key: "a", record: "a2", revision: second))
            #expect(try await store.jobEvents(key: "a") == [#"{"event":1}"#, "a-e2"])

            // b is current, a is stale: neither is written.
            let error = await #expect(throws: MLPersistenceError.self) {
                try await store.writeJobs([
                    MLJobWrite(row: row("b", record: "b2"), expected: first,
                               event: MLJobEventRow(key: "b", sequence: 2, record: "b-e2")),
                    MLJobWrite(row: row("a", record: "a3"), expected: first, event: nil),
                ])
            }
            guard case .conflict(namespace: MLNamespace.jobs, key: "a", expected: .revision(first), found: second)? = error
            else {
                Issue.record("expected a conflict on jobs/a, got \(String(describing: error))")
                return
            }
            #expect(try await store.jobRecord(key: "b") == MLJobRecord(key: "b", record: "{}", revision: first))
            #expect(try await store.jobEvents(key: "b") == [#"{"event":1}"#])
            #expect(try await store.jobRecord(key: "a")?.record == "a2")

            // A row that is gone: found nothing.
            let gone = await #expect(throws: MLPersistenceError.self) {
                try await store.writeJobs([MLJobWrite(row: row("nothing"), expected: first, event: nil)])
            }
            guard case .conflict(namespace: MLNamespace.jobs, key: "nothing", expected: .revision(first), found: nil)? = gone
            else {
                Issue.record("expected a conflict on jobs/nothing, got \(String(describing: gone))")
                return
            }

            // An event whose sequence the history has already: a conflict on that job, nothing written.
            let taken = await #expect(throws: MLPersistenceError.self) {
                try await store.writeJobs([
                    MLJobWrite(row: row("b", record: "b3"), expected: first, event: nil),
                    MLJobWrite(row: row("a", record: "a4"), expected: second,
                               event: MLJobEventRow(key: "a", sequence: 2, record: "again")),
                ])
            }
            guard case .conflict(namespace: MLNamespace.jobs, key: "a", expected: .revision(second), found: _)? = taken else {
                Issue.record("expected a conflict on jobs/a, got \(String(describing: taken))")
                return
            }
            #expect(try await store.jobRecord(key: "a") == MLJobRecord(key: "a", record: "a2", revision: second))
            #expect(try await store.jobRecord(key: "b")?.revision == first)
            #expect(try await store.jobEvents(key: "a") == [#"{"event":1}"#, "a-e2"])
        }
    }

    @Test("a write commits and deletes blobs in its transaction, and a failed write commits none")
    func writesWithBlobs() async throws {
        try await withStore { store, _ in
            let first = try inserted(try await store.insertJobs([new(row("a"))], notifying: nil))
            let bytes = Data("checkpoint".utf8)
            let sha = MLBlobHasher.sha256(of: bytes)
            var blobs = MLBatch()
            blobs.commitBlob(try await store.stageBlob(chunk: bytes, sha256: sha))
            // Stale: the blob stays uncommitted.
            await #expect(throws: MLPersistenceError.self) {
                try await store.writeJobs([
                    MLJobWrite(row: row("a"), expected: MLRevision(rawValue: first.rawValue + 1_000), event: nil, blobs: blobs)
                ])
            }
            #expect(try await store.blobInfo(sha256: sha) == nil)
            let second = try await store.writeJobs([MLJobWrite(row: row("a", record: "x"), expected: first, event: nil, blobs: blobs)])
            #expect(try await store.blobInfo(sha256: sha) != nil)
            #expect(try await store.readBlobData(sha256: sha) == bytes)
            var deletion = MLBatch()
            deletion.deleteBlob(sha256: sha)
            try await store.writeJobs([MLJobWrite(row: row("a", record: "y"), expected: second, event: nil, blobs: deletion)])
            #expect(try await store.blobInfo(sha256: sha) == nil)
            #expect(try await store.jobRecord(key: "a")?.record == "y")
        }
    }

    // MARK: Claiming

    @Test("claims pick ready queued jobs of the queue by priority, then key; kinds filter; writes and set-asides apply")
    func claims() async throws {
        try await withStore { store, _ in
            _ = try await store.insertJobs([
                new(row("j01", priority: 0)),
                new(row("j02", priority: 5)),
                new(row("j03", priority: 5)),
                new(row("j04", kind: "evaluate", priority: 1)),
                new(row("j05", priority: 9, ready: false, runAtMs: .max)),
                new(row("j06", queue: "other", priority: 9)),
                new(row("j07", status: "running", priority: 9, ready: false, leaseExpiresAtMs: 1)),
            ], notifying: nil)

            let (none, all) = try await store.claimJobs(queue: "default", kinds: nil, limit: 10) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(none == nil)
            #expect(all == ["j02", "j03", "j04", "j01"])
            let (_, two) = try await store.claimJobs(queue: "default", kinds: nil, limit: 2) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(two == ["j02", "j03"])
            let (_, evaluations) = try await store.claimJobs(queue: "default", kinds: ["evaluate"], limit: 10) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(evaluations == ["j04"])
            let (_, neither) = try await store.claimJobs(queue: "default", kinds: [], limit: 10) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(neither == [])

            // Claim j02, set j03 aside: one revision for both.
            let (revision, _) = try await store.claimJobs(queue: "default", kinds: ["train"], limit: 2) { records in
                let claimed = records[0]
                let write = MLJobWrite(
                    row: row(claimed.key, status: "running", priority: 5, ready: false, leaseExpiresAtMs: 100, record: "claimed"),
                    expected: claimed.revision, event: MLJobEventRow(key: claimed.key, sequence: 2, record: "started"))
                return (MLJobClaim(writes: [write], setAside: [records[1].key]), ())
            }
            let claimed = try #require(revision)
            #expect(try await store.jobRecord(key: "j02") == MLJobRecord(key: "j02", record: "claimed", revision: claimed))
            #expect(try await store.jobEvents(key: "j02") == [#"{"event":1}"#, "started"])
            #expect(try await store.jobRecord(key: "j03")?.revision == claimed)
            let (_, left) = try await store.claimJobs(queue: "default", kinds: nil, limit: 10) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(left == ["j04", "j01"])
            #expect(try await store.expiredJobLeases(atMs: 100, limit: 10).map(\.key) == ["j07", "j02"])
        }
    }

    @Test("a claim whose write is stale conflicts and writes nothing, its set-asides included")
    func staleClaim() async throws {
        try await withStore { store, _ in
            let first = try inserted(try await store.insertJobs([new(row("a")), new(row("b"))], notifying: nil))
            let error = await #expect(throws: MLPersistenceError.self) {
                _ = try await store.claimJobs(queue: "default", kinds: nil, limit: 10) { _ in
                    let write = MLJobWrite(row: row("a", status: "running", ready: false),
                                           expected: MLRevision(rawValue: first.rawValue + 1_000), event: nil)
                    return (MLJobClaim(writes: [write], setAside: ["b"]), ())
                }
            }
            guard case .conflict(namespace: MLNamespace.jobs, key: "a", expected: _, found: first)? = error else {
                Issue.record("expected a conflict on jobs/a, got \(String(describing: error))")
                return
            }
            #expect(try await store.jobRecord(key: "a")?.revision == first)
            #expect(try await store.jobRecord(key: "b")?.revision == first)
        }
    }

    @Test("eight concurrent claimers over two hundred ready jobs claim each exactly once", .timeLimit(.minutes(2)))
    func concurrentClaims() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0], connections: 8) { first in
                try await Scratch.withOwnPool(schema: schemas[0], connections: 8) { second in
                    let keys = (0..<200).map { String(format: "c%03d", $0) }
                    _ = try await first.insertJobs(keys.map { new(row($0, priority: $0.hashValue & 3)) }, notifying: nil)
                    let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                        for claimer in 0..<8 {
                            let store = claimer.isMultiple(of: 2) ? first : second
                            group.addTask {
                                var mine: [String] = []
                                while true {
                                    let (_, keys) = try await store.claimJobs(queue: "default", kinds: nil, limit: 3) { records in
                                        let writes = records.map { record in
                                            MLJobWrite(row: row(record.key, status: "running", ready: false, leaseExpiresAtMs: 1),
                                                       expected: record.revision, event: nil)
                                        }
                                        return (MLJobClaim(writes: writes), records.map(\.key))
                                    }
                                    if keys.isEmpty { return mine }
                                    mine += keys
                                }
                            }
                        }
                        return try await group.reduce(into: [String]()) { $0 += $1 }
                    }
                    #expect(claimed.count == 200)
                    #expect(Set(claimed) == Set(keys))
                    #expect(try await first.liveJobCounts() == MLLiveJobCounts(readyByQueue: [:], waiting: 0, running: 200))
                }
            }
        }
    }

    @Test("a claim skips rows another transaction holds locked, and does not wait for them")
    func claimsSkipLockedRows() async throws {
        try await withStore { store, schema in
            _ = try await store.insertJobs([new(row("a", priority: 5)), new(row("b"))], notifying: nil)
            let picked = try await PostgresBackend.sharedClient().withConnection { connection in
                let logger = Logger(label: "redml.test.jobtable")
                _ = try await connection.query("BEGIN", logger: logger)
                _ = try await connection.query(
                    "SELECT key FROM \(unescaped: schema).ml_job WHERE key = 'a' FOR UPDATE", logger: logger)
                let (_, keys) = try await store.claimJobs(queue: "default", kinds: nil, limit: 10) { records in
                    (MLJobClaim(writes: []), records.map(\.key))
                }
                _ = try await connection.query("ROLLBACK", logger: logger)
                return keys
            }
            #expect(picked == ["b"])
        }
    }

    // MARK: Leases, promotion, setting aside

    @Test("expired leases: running jobs whose lease ended by then, earliest first, then by key, at most the limit")
    func expiredLeases() async throws {
        try await withStore { store, _ in
            _ = try await store.insertJobs([
                new(row("r1", status: "running", ready: false, leaseExpiresAtMs: 100)),
                new(row("r2", status: "running", ready: false, leaseExpiresAtMs: 50)),
                new(row("r0", status: "running", ready: false, leaseExpiresAtMs: 50)),
                new(row("r3", status: "running", ready: false, leaseExpiresAtMs: 101)),
                new(row("q1", ready: false, leaseExpiresAtMs: 10)),
            ], notifying: nil)
            #expect(try await store.expiredJobLeases(atMs: 100, limit: 10).map(\.key) == ["r0", "r2", "r1"])
            #expect(try await store.expiredJobLeases(atMs: 100, limit: 2).map(\.key) == ["r0", "r2"])
            #expect(try await store.expiredJobLeases(atMs: 49, limit: 10).isEmpty)
        }
    }

    @Test("promotion makes due jobs ready at a new revision, reports the next due time, and the limit")
    func promotion() async throws {
        try await withStore { store, _ in
            let first = try inserted(try await store.insertJobs([
                new(row("w1", ready: false, runAtMs: 100)),
                new(row("w2", ready: false, runAtMs: 200)),
                new(row("w3", ready: false, runAtMs: 300)),
                new(row("w4", ready: false, runAtMs: 400)),
            ], notifying: nil))
            #expect(try await store.promoteDueJobs(atMs: 50, limit: 10) == (0, 100))
            #expect(try await store.promoteDueJobs(atMs: 250, limit: 10) == (2, 300))
            let promoted = try #require(try await store.jobRecord(key: "w1")).revision
            #expect(promoted.rawValue > first.rawValue)
            #expect(try await store.jobRecord(key: "w2")?.revision == promoted)
            #expect(try await store.jobRecord(key: "w3")?.revision == first)
            // A writer that read the job before it was promoted is fenced off.
            await #expect(throws: MLPersistenceError.self) {
                try await store.writeJobs([MLJobWrite(row: row("w1"), expected: first, event: nil)])
            }
            // Ready now: claims find them.
            let (_, ready) = try await store.claimJobs(queue: "default", kinds: nil, limit: 10) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(ready == ["w1", "w2"])
            // The limit cuts the promotion short: the next is due now.
            #expect(try await store.promoteDueJobs(atMs: 1_000, limit: 1) == (1, 1_000))
            #expect(try await store.promoteDueJobs(atMs: 1_000, limit: 1) == (1, 1_000))
            #expect(try await store.promoteDueJobs(atMs: 1_000, limit: 1) == (0, nil))
            #expect(try await store.liveJobCounts() == MLLiveJobCounts(readyByQueue: ["default": 4], waiting: 0, running: 0))
        }
    }

    @Test("setting jobs aside makes them unready, forgets their lease, and takes a new revision")
    func settingAside() async throws {
        try await withStore { store, schema in
            let first = try inserted(try await store.insertJobs([
                new(row("q")), new(row("r", status: "running", ready: false, leaseExpiresAtMs: 10)), new(row("other")),
            ], notifying: nil))
            try await store.setJobsAside(keys: ["q", "r"])
            #expect(try await store.expiredJobLeases(atMs: 100, limit: 10).isEmpty)
            let (_, ready) = try await store.claimJobs(queue: "default", kinds: nil, limit: 10) { records in
                (MLJobClaim(writes: []), records.map(\.key))
            }
            #expect(ready == ["other"])
            let revision = try #require(try await store.jobRecord(key: "q")).revision
            #expect(revision.rawValue > first.rawValue)
            #expect(try await store.jobRecord(key: "r")?.revision == revision)
            let rows = try await Scratch.textRows(
                "SELECT key, ready::text, coalesce(lease_expires_at_ms::text, 'none') FROM \(unescaped: schema).ml_job ORDER BY key",
                columns: 3)
            #expect(rows == ["other|true|none", "q|false|none", "r|false|none"])
            // Listings still show them.
            #expect(try await store.jobPage(MLJobTableQuery()).records.map(\.key) == ["other", "q", "r"])
        }
    }

    // MARK: Listing, pruning, counting

    @Test("pages: by key in both orders, after a cursor, filtered by status, kind and queue, with more")
    func pages() async throws {
        try await withStore { store, _ in
            let jobs = (0..<10).map { index in
                new(row(
                    "p\(index)", queue: index < 5 ? "low" : "high", kind: index.isMultiple(of: 3) ? "evaluate" : "train",
                    status: index.isMultiple(of: 2) ? "queued" : "completed", ready: index.isMultiple(of: 2),
                    finishedAtMs: index.isMultiple(of: 2) ? nil : 10))
            }
            _ = try await store.insertJobs(jobs, notifying: nil)
            func keys(_ query: MLJobTableQuery) async throws -> ([String], Bool) {
                let (records, more) = try await store.jobPage(query)
                return (records.map(\.key), more)
            }
            #expect(try await keys(MLJobTableQuery(limit: 3)) == (["p0", "p1", "p2"], true))
            #expect(try await keys(MLJobTableQuery(after: "p2", limit: 3)) == (["p3", "p4", "p5"], true))
            #expect(try await keys(MLJobTableQuery(after: "p6", limit: 3)) == (["p7", "p8", "p9"], false))
            #expect(try await keys(MLJobTableQuery(after: "p9", limit: 3)) == ([], false))
            #expect(try await keys(MLJobTableQuery(descending: true, limit: 3)) == (["p9", "p8", "p7"], true))
            #expect(try await keys(MLJobTableQuery(after: "p3", descending: true, limit: 3)) == (["p2", "p1", "p0"], false))
            #expect(try await keys(MLJobTableQuery(limit: 10)) == ((0..<10).map { "p\($0)" }, false))
            #expect(try await keys(MLJobTableQuery(limit: 2, status: "completed")) == (["p1", "p3"], true))
            #expect(try await keys(MLJobTableQuery(after: "p3", limit: 10, status: "completed")) == (["p5", "p7", "p9"], false))
            #expect(try await keys(MLJobTableQuery(limit: 10, kind: "evaluate")) == (["p0", "p3", "p6", "p9"], false))
            #expect(try await keys(MLJobTableQuery(descending: true, limit: 10, status: "queued", queue: "high"))
                    == (["p8", "p6"], false))
            #expect(try await keys(MLJobTableQuery(limit: 10, status: "queued", kind: "evaluate", queue: "low"))
                    == (["p0"], false))
        }
    }

    @Test("pages order keys bytewise, as every backend does")
    func bytewiseOrder() async throws {
        try await withStore { store, _ in
            _ = try await store.insertJobs(["b", "B", "a", "_", "é"].map { new(row($0)) }, notifying: nil)
            #expect(try await store.jobPage(MLJobTableQuery()).records.map(\.key) == ["B", "_", "a", "b", "é"])
        }
    }

    @Test("pruning deletes finished jobs before the cutoff, oldest first, with their events, at most the limit")
    func pruning() async throws {
        try await withStore { store, schema in
            _ = try await store.insertJobs([
                new(row("f40", status: "completed", ready: false, finishedAtMs: 40)),
                new(row("f10", status: "failed", ready: false, finishedAtMs: 10)),
                new(row("f30", status: "cancelled", ready: false, finishedAtMs: 30)),
                new(row("f20", status: "completed", ready: false, finishedAtMs: 20)),
                // Not finished, whatever its column says: never pruned.
                new(row("q05", ready: false, finishedAtMs: 5)),
                new(row("r", status: "running", ready: false, leaseExpiresAtMs: 1)),
            ], notifying: nil)
            #expect(try await store.pruneJobs(finishedBeforeMs: 35, limit: 2) == 2)
            #expect(try await store.jobRecord(key: "f10") == nil)
            #expect(try await store.jobRecord(key: "f20") == nil)
            #expect(try await store.jobEvents(key: "f10") == [])
            #expect(try await store.jobRecord(key: "f30") != nil)
            #expect(try await store.pruneJobs(finishedBeforeMs: 35, limit: 2) == 1)
            #expect(try await store.pruneJobs(finishedBeforeMs: 35, limit: 2) == 0)
            #expect(try await store.jobPage(MLJobTableQuery()).records.map(\.key) == ["f40", "q05", "r"])
            let events = try await Scratch.textRows(
                "SELECT key FROM \(unescaped: schema).ml_job_event ORDER BY key", columns: 1)
            #expect(events == ["f40", "q05", "r"])
        }
    }

    @Test("live counts: ready per queue, waiting and running; finished jobs are not counted")
    func counts() async throws {
        try await withStore { store, _ in
            #expect(try await store.liveJobCounts() == MLLiveJobCounts(readyByQueue: [:], waiting: 0, running: 0))
            _ = try await store.insertJobs([
                new(row("a", queue: "q1")), new(row("b", queue: "q1")), new(row("c", queue: "q2")),
                new(row("d", ready: false, runAtMs: 10)), new(row("e", queue: "q2", ready: false, runAtMs: 10)),
                new(row("f", status: "running", ready: false)), new(row("g", status: "running", ready: false)),
                new(row("h", queue: "q3", status: "running", ready: false)),
                new(row("i", status: "completed", ready: false, finishedAtMs: 1)),
            ], notifying: nil)
            #expect(try await store.liveJobCounts()
                    == MLLiveJobCounts(readyByQueue: ["q1": 2, "q2": 1], waiting: 2, running: 3))
        }
    }

    // MARK: Migration

    @Test("the migration moves the key-value layout's jobs and history into the table, and empties their namespaces")
    func migrationMovesKeyValueJobs() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let before = 7  // the last schema that kept jobs in ml_kv
            let older = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schemas[0])
            try await older.migrate(upTo: before)
            #expect(try await older.storedSchemaVersion() == before)
            // What the queue of the previous schema left behind (put would migrate the schema:
            // every call of the store does, so the rows go in with SQL).
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let (due, later, running, done, corrupt, bare) =
                (MLKey.job(1), MLKey.job(2), MLKey.job(3), MLKey.job(4), MLKey.job(5), MLKey.job(6))
            func record(_ id: String, _ fields: String) -> String {
                #"{"id":"\#(id)","kind":"train","target":"m","created_at_ms":1000,\#(fields)}"#
            }
            let entries: [(String, String, String)] = [
                ("jobs", due, record(due, #""status":"queued","queue":"fast","priority":7,"run_at_ms":1000,"unique_key":"u1""#)),
                ("jobs", later, record(later, #""status":"queued","run_at_ms":\#(now + 3_600_000)"#)),
                ("jobs", running, record(running, #""status":"running","lease_expires_at_ms":5000,"unique_key":"u2""#)),
                ("jobs", done, record(done, #""status":"completed","finished_at_ms":9000,"unique_key":"u1""#)),
                ("jobs", corrupt, "not JSON {"),
                // JSON, but not a job the queue can read: moved, never ready.
                ("jobs", bare, #"{"status":"queued"}"#),
                ("job_history", "\(due)/00000001", #"{"n":1}"#),
                ("job_history", "\(due)/00000002", #"{"n":2}"#),
                ("job_history", "\(running)/00000001", #"{"n":"r1"}"#),
                ("job_ready", "fast/0993/\(due)", due),
                ("job_scheduled", "000000000000001/\(later)", later),
                ("job_leases", "000000000005000/\(running)", running),
                ("job_finished", "000000000009000/\(done)", done),
                ("job_unique", "u1", due),
                ("models", "m", "{}"),
            ]
            for (namespace, key, value) in entries {
                try await PostgresBackend.sharedClient().query(
                    """
                    INSERT INTO \(unescaped: schema).ml_kv (namespace, key, value, revision)
                    VALUES (\(namespace), \(key), \(value), nextval('\(unescaped: schema).ml_revision'::regclass))
                    """)
            }
            let revisions = Dictionary(uniqueKeysWithValues: try await Scratch.textRows(
                "SELECT key, revision::text FROM \(unescaped: schema).ml_kv WHERE namespace = 'jobs'", columns: 2
            ).map { line in
                let parts = line.split(separator: "|")
                return (String(parts[0]), Int64(parts[1])!)
            })

            let store = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schemas[0])
            try await store.migrate()
            #expect(try await store.storedSchemaVersion() == PostgresMLPersistence.schemaVersion)

            for (namespace, key, value) in entries where namespace == "jobs" {
                // The unreadable ones are set aside (below), and their records say so.
                #expect(try await store.jobRecord(key: key)
                        == MLJobRecord(key: key, record: value, revision: MLRevision(rawValue: revisions[key]!),
                                       setAside: key == corrupt || key == bare))
            }
            let rows = try await Scratch.textRows(
                """
                SELECT key, queue, kind, status, priority::text, run_at_ms::text, ready::text,
                       coalesce(lease_expires_at_ms::text, '-'), coalesce(finished_at_ms::text, '-'), coalesce(unique_key, '-')
                FROM \(unescaped: schema).ml_job ORDER BY key
                """, columns: 10)
            #expect(rows == [
                "\(due)|fast|train|queued|7|1000|true|-|-|u1",
                "\(later)|default|train|queued|0|\(now + 3_600_000)|false|-|-|-",
                "\(running)|default|train|running|0|1000|false|5000|-|u2",
                "\(done)|default|train|completed|0|1000|false|-|9000|u1",
                // Unreadable: set aside (migration 9), so promotion never makes them ready.
                "\(corrupt)|default||set_aside|0|0|false|-|-|-",
                "\(bare)|default||set_aside|0|0|false|-|-|-",
            ])
            #expect(try await store.jobEvents(key: due) == [#"{"n":1}"#, #"{"n":2}"#])
            #expect(try await store.jobEvents(key: running) == [#"{"n":"r1"}"#])
            #expect(try await store.jobEvents(key: later) == [])
            for namespace in ["jobs", "job_ready", "job_scheduled", "job_leases", "job_finished", "job_unique", "job_history"] {
                #expect(try await store.list(namespace: namespace).isEmpty, "\(namespace) still has entries")
            }
            #expect(try await store.get(namespace: MLNamespace.models, key: "m") == "{}")
            #expect(try await store.liveJobCounts()
                    == MLLiveJobCounts(readyByQueue: ["fast": 1], waiting: 1, running: 1))
            #expect(try await store.promoteDueJobs(atMs: now, limit: 10).promoted == 0)
            // The live job holding u1 still blocks it.
            guard case .duplicate(let holder) = try await store.insertJobs([new(row("new", uniqueKey: "u1"))], notifying: nil)
            else {
                Issue.record("the migrated unique key did not block")
                return
            }
            #expect(holder.key == due)

            // The operator view reads the table, with the columns it had.
            let view = try await Scratch.textRows(
                "SELECT id, coalesce(status, ''), coalesce(queue, ''), corrupt::text, revision::text FROM \(unescaped: schema).ml_jobs ORDER BY id",
                columns: 5)
            #expect(view == [
                "\(due)|queued|fast|false|\(revisions[due]!)",
                "\(later)|queued||false|\(revisions[later]!)",
                "\(running)|running||false|\(revisions[running]!)",
                "\(done)|completed||false|\(revisions[done]!)",
                "\(corrupt)|||true|\(revisions[corrupt]!)",
                "\(bare)|queued||false|\(revisions[bare]!)",
            ])
            let columns = try await Scratch.textRows(
                """
                SELECT column_name || ' ' || data_type FROM information_schema.columns
                WHERE table_schema = \(schemas[0]) AND table_name = 'ml_jobs' ORDER BY ordinal_position
                """, columns: 1)
            #expect(columns == [
                "id text", "kind text", "target text", "status text", "progress numeric", "queue text",
                "priority numeric", "attempt numeric", "error text", "created_at timestamp with time zone",
                "started_at timestamp with time zone", "finished_at timestamp with time zone", "corrupt boolean",
                "revision bigint",
            ])
        }
    }

    // MARK: Helpers

    /// Runs `body` with a store on a new schema of the shared pool, and the schema's quoted name.
    private func withStore(_ body: (PostgresMLPersistence, String) async throws -> Void) async throws {
        try await Scratch.withSchemas { schemas in
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            try await body(store, "\"\(schemas[0])\"")
        }
    }
}

/// A row with the defaults of a ready queued job of kind `train` in queue `default`.
private func row(
    _ key: String, queue: String = "default", kind: String = "train", status: String = "queued", priority: Int = 0,
    ready: Bool = true, runAtMs: Int64 = 0, leaseExpiresAtMs: Int64? = nil, finishedAtMs: Int64? = nil,
    uniqueKey: String? = nil, record: String = "{}"
) -> MLJobRow {
    MLJobRow(
        key: key, queue: queue, kind: kind, status: status, priority: priority, runAtMs: runAtMs, ready: ready,
        leaseExpiresAtMs: leaseExpiresAtMs, finishedAtMs: finishedAtMs, uniqueKey: uniqueKey, record: record)
}

/// A new job with its first event, `{"event":1}`.
private func new(_ row: MLJobRow) -> MLNewJob {
    MLNewJob(row: row, event: MLJobEventRow(key: row.key, sequence: 1, record: #"{"event":1}"#))
}

/// The revision of an insertion that must have inserted.
private func inserted(_ insertion: MLJobInsertion) throws -> MLRevision {
    guard case .inserted(let revision) = insertion else {
        throw MLPersistenceError.backend("expected an insertion, got \(insertion)")
    }
    return revision
}
