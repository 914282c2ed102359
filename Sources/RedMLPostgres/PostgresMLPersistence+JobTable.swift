import PostgresNIO
import RedMLPersistence
import Synchronization

/// The job queue's jobs in the `ml_job` table and their history in
/// `ml_job_event` (migration 8, ``PostgresJobTableSQL``).
///
/// Inserts and conditional writes are one call each of a schema function
/// (`ml_job_insert`, `ml_job_write`), so a submission or a group of
/// completions is one round trip, whatever the number of jobs; claims,
/// promotion and pruning pick their rows with `FOR UPDATE SKIP LOCKED`, so
/// concurrent processes pass over each other's rows instead of waiting.
extension PostgresMLPersistence: MLJobTableStore, MLJobAttemptStarting {
    /// How often an insert is run again when a live job that held a uniqueness
    /// key finished before its record could be read.
    private static let duplicateAttempts = 8

    /// Inserts the jobs with one `ml_job_insert` call (its own transaction):
    /// a key taken is a conflict, a uniqueness key held by a live job rolls
    /// everything back and returns that job.
    public func insertJobs(_ jobs: [MLNewJob], notifying topic: String?) async throws -> MLJobInsertion {
        if let topic { try MLInput.check(topic, "topic") }
        guard !jobs.isEmpty else { return .inserted(try await commit(MLBatch())) }
        let call = try PostgresJobColumns(inserting: jobs).insertCall(tables, channel: notificationChannel, topic: topic)
        for _ in 0..<Self.duplicateAttempts {
            let outcome = try await transaction(isolation: nil) { sql -> InsertOutcome in
                do {
                    return .inserted(try await Self.revision(of: call, sql))
                } catch {
                    guard let (state, report) = PostgresJobTableErrors.report(error),
                        state == PostgresJobTableErrors.uniqueKeyHeld
                    else { throw Self.mapped(error, expected: { _ in .absent }) }
                    guard let holder = report.holder, let unique = report.uniqueKey else { throw error }
                    // The holder may have finished since: then it no longer blocks, and the insert runs again.
                    let query: PostgresQuery = """
                        SELECT key, record, revision FROM \(unescaped: tables.job)
                        WHERE key = \(holder) AND unique_key = \(unique) AND status IN ('queued', 'running')
                        """
                    return try await Self.records(query, sql).first.map(InsertOutcome.duplicate) ?? .holderFinished
                }
            }
            switch outcome {
            case .inserted(let revision): return .inserted(MLRevision(rawValue: revision))
            case .duplicate(let record): return .duplicate(record)
            case .holderFinished: continue
            }
        }
        throw MLPersistenceError.backend(
            "postgres \(storeName): gave up inserting jobs after \(Self.duplicateAttempts) attempts, each blocked "
                + "by a live job holding a unique key that finished before it could be read")
    }

    private enum InsertOutcome: Sendable {
        case inserted(Int64)
        case duplicate(MLJobRecord)
        case holderFinished
    }

    public func jobRecord(key: String) async throws -> MLJobRecord? {
        try MLInput.check(key, "job key")
        return try await withSQL { sql in
            try await Self.records(
                "SELECT key, record, revision, status = 'set_aside' FROM \(unescaped: self.tables.job) WHERE key = \(key)", sql,
                tellingSetAside: true
            ).first
        }
    }

    /// Writes with one `ml_job_write` call, its own transaction, when no write
    /// carries blob operations (completions, grouped); otherwise in a `READ
    /// COMMITTED` transaction with the blob operations. The commit waits for
    /// the WAL: a completion must not be lost.
    @discardableResult
    public func writeJobs(_ writes: [MLJobWrite]) async throws -> MLRevision {
        guard !writes.isEmpty else { return try await commit(MLBatch()) }
        let columns = try PostgresJobColumns(writing: writes)
        let blobs = try Self.blobOperations(writes)
        let revision = try await transaction(isolation: blobs.isEmpty ? nil : "READ COMMITTED") { sql in
            try await Self.apply(writes, columns, blobs: blobs, sql, self.tables)
        }
        return MLRevision(rawValue: revision)
    }

    /// Claims in one `READ COMMITTED` transaction: the picked rows stay
    /// locked until the writes made of them commit, and other claimers skip
    /// them. Jobs of other kinds are filtered out before locking, so they stay
    /// free for claimers that run them. As ``claim(namespace:prefix:after:limit:recordNamespace:_:)``,
    /// the commit does not wait for the WAL.
    public func claimJobs<T: Sendable>(
        queue: String, kinds: [String]?, limit: Int,
        _ body: @escaping @Sendable ([MLJobRecord]) throws -> (MLJobClaim, T)
    ) async throws -> (MLRevision?, T) {
        try Self.checkClaim(queue: queue, kinds: kinds, limit: limit)
        let tables = tables
        let (revision, result) = try await settingAsideHistoryAhead { note in
            try await self.transaction(isolation: "READ COMMITTED") { sql -> (Int64?, T) in
                // Not waiting for the WAL flush: a claim lost in a crash only makes the job run
                // again. Set by the pick itself, as claim(…) does, to save a round trip.
                var binds = PostgresBindings()
                binds.append(queue)
                binds.append(Int64(min(limit, 10_000)))
                if let kinds { binds.append(kinds) }
                let query = PostgresQuery(unsafeSQL: """
                    SELECT key, record, revision, set_config('synchronous_commit', 'off', true)
                    FROM \(tables.job)
                    WHERE queue = $1 AND status = 'queued' AND ready \(kinds == nil ? "" : "AND kind = ANY($3)")
                    ORDER BY priority DESC, key LIMIT $2
                    FOR UPDATE SKIP LOCKED
                    """, binds: binds)
                let picked = try await sql.rows(query).map { row in
                    let (key, record, revision, _) = try row.decode((String, String, Int64, String).self)
                    return MLJobRecord(key: key, record: record, revision: MLRevision(rawValue: revision))
                }
                let (claim, result) = try body(picked)
                var revision: Int64?
                if !claim.writes.isEmpty {
                    let columns = try PostgresJobColumns(writing: claim.writes)
                    let blobs = try Self.blobOperations(claim.writes)
                    revision = try await Self.apply(claim.writes, columns, blobs: blobs, sql, tables, note: note)
                }
                if !claim.setAside.isEmpty {
                    try await Self.setAside(claim.setAside, revision: revision, sql, tables)
                }
                return (revision, result)
            }
        }
        return (revision.map(MLRevision.init(rawValue:)), result)
    }

    /// Claims with one call of `ml_job_claim` (``PostgresJobClaimSQL``): one
    /// round trip, where ``claimJobs(queue:kinds:limit:_:)`` takes four
    /// (`BEGIN`, the pick, `ml_job_write`, `COMMIT`).
    public func startJobAttempts(_ attempts: MLJobAttempts) async throws -> [MLJobRecord]? {
        try Self.checkClaim(queue: attempts.queue, kinds: attempts.kinds, limit: attempts.limit)
        try MLInput.check(attempts.worker, "worker")
        guard attempts.leaseMs >= 0 else {
            throw MLPersistenceError.invalidArgument("lease must not be negative, got \(attempts.leaseMs) ms")
        }
        let call = "\(tables.quotedSchema).ml_job_claim"
        return try await settingAsideHistoryAhead { note in
            try await self.transaction(isolation: nil) { sql -> [MLJobRecord]? in
                var binds = PostgresBindings()
                binds.append(attempts.queue)
                if let kinds = attempts.kinds { binds.append(kinds) } else { binds.appendNull() }
                binds.append(Int32(min(attempts.limit, 10_000)))
                binds.append(attempts.worker)
                binds.append(attempts.nowMs())
                binds.append(attempts.leaseMs)
                let query = PostgresQuery(unsafeSQL: "SELECT * FROM \(call)($1, $2, $3, $4, $5, $6)", binds: binds)
                do {
                    return try await Self.records(query, sql)
                } catch where sqlState(error)?.hasPrefix("22") == true {
                    // A record jsonb cannot read, or a field of the wrong type: claimJobs reads them itself.
                    return nil
                } catch {
                    note.record(error)
                    throw Self.mapped(error, expected: { _ in .present })
                }
            }
        }
    }

    public func expiredJobLeases(atMs: Int64, limit: Int) async throws -> [MLJobRecord] {
        let limit = try Self.checked(limit)
        return try await withSQL { sql in
            try await Self.records(
                """
                SELECT key, record, revision FROM \(unescaped: self.tables.job)
                WHERE status = 'running' AND lease_expires_at_ms <= \(atMs)
                ORDER BY lease_expires_at_ms, key LIMIT \(limit)
                """, sql)
        }
    }

    /// Promotes in one statement, which takes one revision for the rows it
    /// makes ready (so a writer that read one before is fenced off) and,
    /// when it promoted any, notifies `job_ready` at its commit.
    public func promoteDueJobs(atMs: Int64, limit: Int) async throws -> (promoted: Int, nextDueMs: Int64?) {
        let limit = try Self.checked(limit)
        let job = tables.job
        let channel = notificationChannel
        return try await transaction(isolation: nil) { sql in
            // `due` is read twice, so it is computed once: the rows promoted are the rows locked.
            // The last SELECT sees the table as the statement began, before the promotion,
            // so the rows promoted are left out of the next due time by hand.
            let query: PostgresQuery = """
                WITH due AS (
                    SELECT key FROM \(unescaped: job)
                    WHERE status = 'queued' AND NOT ready AND run_at_ms <= \(atMs)
                    ORDER BY run_at_ms LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ), promoted AS (
                    UPDATE \(unescaped: job) AS j SET ready = true, revision = (SELECT \(unescaped: self.tables.nextRevision))
                    FROM due WHERE j.key = due.key
                    RETURNING j.key
                ), counted AS (
                    SELECT count(*) AS n FROM promoted
                ), notified AS (
                    SELECT pg_notify(\(channel), 'job_ready') FROM counted WHERE n > 0
                )
                SELECT n, CASE WHEN n >= \(limit) THEN \(atMs)
                               ELSE (SELECT min(run_at_ms) FROM \(unescaped: job)
                                     WHERE status = 'queued' AND NOT ready AND key NOT IN (SELECT key FROM due)) END,
                       (SELECT count(*) FROM notified)
                FROM counted
                """
            guard let row = try await sql.rows(query).first else {
                throw MLPersistenceError.backend("postgres \(self.storeName): promotion returned no row")
            }
            let (promoted, next, _) = try row.decode((Int64, Int64?, Int64).self)
            return (Int(promoted), next)
        }
    }

    /// Sets the jobs aside with one statement, at a revision of its own.
    public func setJobsAside(keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        for key in keys { try MLInput.check(key, "job key") }
        try await transaction(isolation: nil) { sql in
            try await Self.setAside(keys, revision: nil, sql, self.tables)
        }
    }

    /// Filters are applied to the rows read in key order: a page without
    /// filters is a range scan of the primary key, and one with filters reads
    /// past the rows it leaves out (rare: operators listing one status).
    public func jobPage(_ query: MLJobTableQuery) async throws -> (records: [MLJobRecord], more: Bool) {
        guard query.limit >= 1 else {
            throw MLPersistenceError.invalidArgument("page limit must be at least 1, got \(query.limit)")
        }
        var binds = PostgresBindings()
        var conditions: [String] = []
        for (column, value) in [("status", query.status), ("kind", query.kind), ("queue", query.queue)] {
            guard let value else { continue }
            try MLInput.check(value, "page filter")
            binds.append(value)
            conditions.append("\(column) = $\(binds.count)")
        }
        if let after = query.after {
            try MLInput.check(after, "page cursor")
            binds.append(after)
            conditions.append("key \(query.descending ? "<" : ">") $\(binds.count)")
        }
        // One more than the limit, to learn whether more follow.
        binds.append(Int64(min(query.limit, 1 << 40)) + 1)
        let page = PostgresQuery(unsafeSQL: """
            SELECT key, record, revision, status = 'set_aside' FROM \(tables.job)
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY key \(query.descending ? "DESC" : "ASC") LIMIT $\(binds.count)
            """, binds: binds)
        let records = try await withSQL { connection in try await Self.records(page, connection, tellingSetAside: true) }
        return (Array(records.prefix(query.limit)), records.count > query.limit)
    }

    public func jobEvents(key: String) async throws -> [String] {
        try await numberedJobEvents(key: key).map(\.record)
    }

    public func numberedJobEvents(key: String) async throws -> [(sequence: Int, record: String)] {
        try MLInput.check(key, "job key")
        return try await withSQL { sql in
            try await sql.rows(
                "SELECT sequence, record FROM \(unescaped: self.tables.jobEvent) WHERE key = \(key) ORDER BY sequence"
            ).map { row in
                let (sequence, record) = try row.decode((Int32, String).self)
                return (Int(sequence), record)
            }
        }
    }

    /// Deletes in one statement (one transaction), jobs and events together;
    /// rows another pruner holds are skipped, not waited for.
    public func pruneJobs(finishedBeforeMs: Int64, limit: Int) async throws -> Int {
        let limit = try Self.checked(limit)
        let tables = tables
        return try await transaction(isolation: nil) { sql in
            let deleted = try await sql.one(
                """
                WITH doomed AS (
                    SELECT key FROM \(unescaped: tables.job)
                    WHERE finished_at_ms IS NOT NULL AND finished_at_ms < \(finishedBeforeMs)
                      AND status IN ('completed', 'failed', 'cancelled')
                    ORDER BY finished_at_ms, key LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ), events AS (
                    DELETE FROM \(unescaped: tables.jobEvent) AS e USING doomed WHERE e.key = doomed.key
                ), jobs AS (
                    DELETE FROM \(unescaped: tables.job) AS j USING doomed WHERE j.key = doomed.key RETURNING 1
                )
                SELECT count(*) FROM jobs
                """, as: Int64.self)
            return Int(deleted ?? 0)
        }
    }

    /// Vacuums `ml_job` and `ml_job_event` once the dead rows of `ml_job`
    /// (three per job: its transitions are not HOT updates, since they change
    /// indexed columns) pass ``reclaimThreshold`` and a fifth of its live
    /// rows, beyond those the last vacuum could not remove (an open
    /// transaction elsewhere keeps them; vacuuming again would not help until
    /// it ends). Autovacuum would vacuum too, but its launcher looks only once
    /// a minute (`autovacuum_naptime`, a server-wide setting), and a busy queue
    /// leaves hundreds of thousands of dead rows in a minute. The statistics
    /// it reads are PostgreSQL's own (`pg_stat_user_tables`), so the check
    /// costs one small query.
    @discardableResult
    public func reclaimJobSpace() async throws -> Bool {
        let tables = tables
        let left = deadJobRowsLeft
        return try await withSQL { sql in
            let due = try await sql.one(
                """
                SELECT n_dead_tup > \(left) + greatest(\(Int64(Self.reclaimThreshold)), n_live_tup / 5)
                FROM pg_stat_user_tables WHERE relid = \(tables.job)::regclass
                """, as: Bool.self)
            guard due == true else { return false }
            // VACUUM cannot run in a transaction block; it runs on its own, without locking out writers.
            try await sql.execute("VACUUM \(unescaped: tables.job), \(unescaped: tables.jobEvent)")
            self.deadJobRowsLeft = try await sql.one(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = \(tables.job)::regclass", as: Int64.self) ?? 0
            return true
        }
    }

    /// How many dead rows of `ml_job` make ``reclaimJobSpace()`` vacuum, at least: 10,000.
    public static let reclaimThreshold = 10_000

    /// Counts with one query of three parts, each an index scan of the
    /// partial index that holds exactly its rows.
    public func liveJobCounts() async throws -> MLLiveJobCounts {
        let job = tables.job
        let rows = try await withSQL { sql in
            try await sql.rows(
                """
                SELECT 'ready', queue, count(*) FROM \(unescaped: job) WHERE status = 'queued' AND ready GROUP BY queue
                UNION ALL
                SELECT 'waiting', '', count(*) FROM \(unescaped: job) WHERE status = 'queued' AND NOT ready
                UNION ALL
                SELECT 'running', '', count(*) FROM \(unescaped: job) WHERE status = 'running'
                """
            ).map { try $0.decode((String, String, Int64).self) }
        }
        var counts = MLLiveJobCounts(readyByQueue: [:], waiting: 0, running: 0)
        for (part, queue, count) in rows {
            switch part {
            case "ready": counts.readyByQueue[queue] = Int(count)
            case "waiting": counts.waiting = Int(count)
            default: counts.running = Int(count)
            }
        }
        return counts
    }

    // MARK: Helpers

    /// Applies conditional writes inside the caller's transaction (or as a
    /// statement of its own): one `ml_job_write` call, then the blob operations.
    /// In a claim, a failure is noted in `note` (see ``HistoryAheadNote``).
    private static func apply(
        _ writes: [MLJobWrite], _ columns: PostgresJobColumns, blobs: [MLBatch.Operation], _ sql: PostgresSQL,
        _ tables: PostgresTables, note: HistoryAheadNote? = nil
    ) async throws -> Int64 {
        let revision: Int64
        do {
            revision = try await Self.revision(of: columns.writeCall(tables), sql)
        } catch {
            note?.record(error)
            let expected = Dictionary(writes.map { ($0.row.key, $0.expected) }, uniquingKeysWith: { first, _ in first })
            throw mapped(error, expected: { key in expected[key].map(MLCondition.revision) ?? .present })
        }
        for operation in blobs {
            switch operation {
            case .commitBlob(let blob): try await PostgresBlobs.commit(blob, sql, tables)
            case .deleteBlob(let sha256): try await PostgresBlobs.delete(sha256: sha256, sql, tables)
            case .put, .delete, .require: break  // refused by blobOperations(_:)
            }
        }
        return revision
    }

    /// The blob operations of `writes`, in order; anything else is refused.
    private static func blobOperations(_ writes: [MLJobWrite]) throws -> [MLBatch.Operation] {
        var operations: [MLBatch.Operation] = []
        for write in writes {
            for operation in write.blobs.operations {
                switch operation {
                case .commitBlob: operations.append(operation)
                case .deleteBlob(let sha256):
                    try MLInput.checkSHA256(sha256)
                    operations.append(operation)
                case .put, .delete, .require:
                    throw MLPersistenceError.invalidArgument(
                        "a job write carries only blob operations; job \(write.row.key) has an entry operation")
                }
            }
        }
        return operations
    }

    /// Runs a claim; if it failed on a job whose record is behind its history
    /// (``HistoryAheadNote``), sets that job aside (in a transaction of its
    /// own: the claim's rolled back) and throws a corruption error naming it,
    /// so that the next claim passes it by instead of the queue stalling behind it.
    private func settingAsideHistoryAhead<T: Sendable>(_ claim: (HistoryAheadNote) async throws -> T) async throws -> T {
        let note = HistoryAheadNote()
        do {
            return try await claim(note)
        } catch {
            guard let key = note.key.withLock({ $0 }) else { throw error }
            try await setJobsAside(keys: [key])
            throw MLPersistenceError.corruptValue(
                namespace: MLNamespace.jobs, key: key,
                reason: "its history (\(tables.jobEvent)) already holds the event a claim would add, so the record's "
                    + "event_count is behind it; the job is set aside")
        }
    }

    /// Sets jobs aside at `revision`, or at a revision of their own.
    private static func setAside(_ keys: [String], revision: Int64?, _ sql: PostgresSQL, _ tables: PostgresTables) async throws {
        let stamp = revision.map(String.init) ?? "(SELECT \(tables.nextRevision))"
        var query = PostgresQuery(unsafeSQL: """
            UPDATE \(tables.job) SET status = 'set_aside', ready = false, lease_expires_at_ms = NULL, revision = \(stamp)
            WHERE key = ANY($1)
            """)
        query.binds.append(keys)
        try await sql.execute(query)
    }

    /// The revision a job function returned.
    private static func revision(of call: PostgresQuery, _ sql: PostgresSQL) async throws -> Int64 {
        guard let revision = try await sql.one(call, as: Int64.self) else {
            throw MLPersistenceError.backend("a job function returned no revision")
        }
        return revision
    }

    /// The rows (key, record, revision) of `query`; with `tellingSetAside`, a
    /// fourth column tells whether the row is set aside.
    private static func records(
        _ query: PostgresQuery, _ sql: PostgresSQL, tellingSetAside: Bool = false
    ) async throws -> [MLJobRecord] {
        try await sql.rows(query).map { row in
            guard tellingSetAside else {
                let (key, record, revision) = try row.decode((String, String, Int64).self)
                return MLJobRecord(key: key, record: record, revision: MLRevision(rawValue: revision))
            }
            let (key, record, revision, setAside) = try row.decode((String, String, Int64, Bool).self)
            return MLJobRecord(key: key, record: record, revision: MLRevision(rawValue: revision), setAside: setAside)
        }
    }

    /// The conflict a job function reported, with the condition the write
    /// of the key named had (`expected(key)`); any other error unchanged.
    private static func mapped(_ error: any Error, expected: (String) -> MLCondition) -> any Error {
        guard let (state, report) = PostgresJobTableErrors.report(error) else { return error }
        guard let key = report.key else {
            return MLPersistenceError.backend("a job function reported a conflict it did not describe (\(state))")
        }
        let found = report.found.map(MLRevision.init(rawValue:))
        switch state {
        case PostgresJobTableErrors.uniqueKeyHeld:
            // A write making a job live again with a key another live job holds: as the
            // key-value layout's put-if-absent of that key would have failed.
            return MLPersistenceError.conflict(
                namespace: PostgresJobTableErrors.uniqueNamespace, key: report.uniqueKey ?? key, expected: .absent,
                found: found)
        case PostgresJobTableErrors.revisionConflict where report.event == true:
            // The row was as its writer read it, but its history already has the event's sequence.
            let condition = expected(key)
            if case .revision(let revision) = condition.requirement {
                return MLPersistenceError.conflict(namespace: MLNamespace.jobs, key: key, expected: condition, found: revision)
            }
            return MLPersistenceError.conflict(namespace: MLNamespace.jobs, key: key, expected: condition, found: found)
        default:
            return MLPersistenceError.conflict(namespace: MLNamespace.jobs, key: key, expected: expected(key), found: found)
        }
    }

    /// Checks what a claim picks by: the queue, the kinds and the limit.
    private static func checkClaim(queue: String, kinds: [String]?, limit: Int) throws {
        try MLInput.check(queue, "queue")
        for kind in kinds ?? [] { try MLInput.check(kind, "kind") }
        guard limit >= 1 else { throw MLPersistenceError.invalidArgument("claim limit must be at least 1, got \(limit)") }
    }

    /// A limit, checked, capped so that a huge one cannot overflow.
    private static func checked(_ limit: Int) throws -> Int64 {
        guard limit >= 1 else { throw MLPersistenceError.invalidArgument("limit must be at least 1, got \(limit)") }
        return Int64(min(limit, 1 << 40))
    }
}

/// Where a claim notes a picked job whose history already holds the event
/// the claim adds. A claim locks the rows it picks, so no writer raced it:
/// the record's event count is behind its history (a hand edit, a record
/// restored alone), and every claim that picks the job would fail the same way.
final class HistoryAheadNote: Sendable {
    /// The job's key, once noted.
    let key = Mutex<String?>(nil)

    /// Notes the job `error` names if a job function reported that its event's sequence was taken.
    func record(_ error: any Error) {
        guard let (state, report) = PostgresJobTableErrors.report(error),
            state == PostgresJobTableErrors.revisionConflict, report.event == true, let job = report.key
        else { return }
        key.withLock { $0 = job }
    }
}
