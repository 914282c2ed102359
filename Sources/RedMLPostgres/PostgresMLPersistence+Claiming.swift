import Foundation
import PostgresNIO
import RedMLPersistence

extension PostgresMLPersistence: MLClaimingStore {
    /// The `LISTEN` channel of this store's schema (a channel name has at most 63 bytes).
    var notificationChannel: String { "redml_" + String(schema.prefix(57)) }

    /// Claims with `FOR UPDATE … SKIP LOCKED` in one `READ COMMITTED`
    /// transaction: the picked index entries and their records stay locked
    /// until the batch built from them commits, and other claimers pass over
    /// them to the next ones. The commit does not wait for the WAL to reach
    /// the disk (`synchronous_commit = off`): a claim lost in a server crash
    /// only makes the job run again, which at-least-once execution allows.
    ///
    /// The batch's own conditions are still checked, against rows this
    /// transaction already holds, so a writer that changed a record before it
    /// was locked makes the claim fail with a conflict, not overwrite.
    public func claim<T: Sendable>(
        namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        let limit = try MLInput.checkClaim(namespace: namespace, recordNamespace: recordNamespace, after: after, limit: limit)
        let kv = tables.kv
        let upper = MLKeyOrder.successor(ofPrefix: prefix)
        // Past the cursor, or from the start of the prefix when the cursor is before it.
        let start = after.map { !MLKeyOrder.less($0, prefix) } == true
        let (revision, result) = try await transaction(isolation: "READ COMMITTED") { sql -> (Int64?, T) in
            // A claim is the one write that may be lost in a server crash: the job is then
            // queued again and claimed anew (the lost claimer's writes fail on its fencing
            // revision), which at-least-once execution allows. Not waiting for the WAL flush
            // lets one claim loop take jobs faster than the disk syncs (3.6 ms here). The
            // pick makes the setting itself (`SET LOCAL` would take a round trip of its own):
            // it only has to be in place by the commit, and without a row nothing is written.
            var query = PostgresQuery(unsafeSQL: """
                SELECT i.key, i.value, i.revision, r.value, r.revision, set_config('synchronous_commit', 'off', true)
                FROM \(kv) i JOIN \(kv) r ON r.namespace = $1 AND r.key = i.value
                WHERE i.namespace = $2 AND i.key \(start ? ">" : ">=") $3 \(upper == nil ? "" : "AND i.key < $5")
                ORDER BY i.key LIMIT $4
                FOR UPDATE OF i, r SKIP LOCKED
                """)
            query.binds.append(recordNamespace)
            query.binds.append(namespace)
            query.binds.append(start ? after! : prefix)
            query.binds.append(Int64(limit))
            if let upper { query.binds.append(upper) }
            let candidates = try await sql.rows(query).map { row in
                let (key, value, revision, record, recordRevision, _) = try row.decode(
                    (String, String, Int64, String, Int64, String).self)
                return MLClaimCandidate(
                    entry: MLEntry(key: key, value: value, revision: MLRevision(rawValue: revision)),
                    record: MLEntry(key: value, value: record, revision: MLRevision(rawValue: recordRevision)))
            }
            let (batch, result) = try body(candidates)
            guard !batch.isEmpty else { return (nil, result) }
            try MLInput.check(batch)
            return (try await PostgresBatch.apply(batch, sql, self.tables), result)
        }
        if let revision { return (MLRevision(rawValue: revision), result) }
        return (try await commit(MLBatch()), result)
    }

    /// Applies `batch` in a `READ COMMITTED` transaction: every condition is
    /// checked `FOR UPDATE` (or `FOR SHARE`), so the row stays as checked until
    /// the commit. A put-if-absent inserts with `ON CONFLICT DO NOTHING`, which
    /// waits for a racing insert not yet committed and then reports a conflict
    /// (a check alone could neither see nor lock that row).
    @discardableResult
    public func commitLocked(_ batch: MLBatch) async throws -> MLRevision {
        try MLInput.check(batch)
        if batch.isEmpty { return try await commit(batch) }
        // One ml_apply call is a transaction by itself: one round trip in all.
        let oneStatement = PostgresBatch.fitsOneStatement(batch)
        let revision = try await transaction(isolation: oneStatement ? nil : "READ COMMITTED") { sql in
            try await PostgresBatch.apply(batch, sql, self.tables)
        }
        return MLRevision(rawValue: revision)
    }

    /// Commits `batch` and, in the same transaction, `pg_notify`s `topic`:
    /// PostgreSQL delivers the notification when (and only if) the transaction commits.
    ///
    /// A batch that fits one `ml_apply` call is applied as ``commitLocked(_:)``
    /// applies it, with the notification in the same statement: one round trip
    /// in all, where a serializable transaction takes four (a submission's
    /// wait, and so the time to a job's start, shrinks by as much).
    @discardableResult
    public func commit(_ batch: MLBatch, notifying topic: String) async throws -> MLRevision {
        try MLInput.check(batch)
        let channel = notificationChannel
        if !batch.isEmpty, PostgresBatch.fitsOneStatement(batch) {
            let revision = try await transaction(isolation: nil) { sql in
                try await PostgresBatch.applyInOneStatement(batch, sql, self.tables, notifying: (channel, topic))
            }
            return MLRevision(rawValue: revision)
        }
        let revision = try await serializable { sql in
            let revision = try await PostgresBatch.apply(batch, sql, self.tables)
            try await sql.execute("SELECT pg_notify(\(channel), \(topic))")
            return revision
        }
        return MLRevision(rawValue: revision)
    }

    /// Holds one pooled connection that `LISTEN`s on the schema's channel,
    /// and reconnects with backoff (up to 5 s) when it is lost.
    public func listen(_ wake: @escaping @Sendable (String) -> Void) async throws {
        let channel = notificationChannel
        var failures = 0
        while !Task.isCancelled {
            do {
                try await withSQL { sql in
                    try await sql.connection.listen(on: channel) { notifications in
                        failures = 0
                        // A wake-up after (re)connecting: whatever was notified while no one listened.
                        wake("")
                        for try await notification in notifications {
                            wake(notification.payload)
                        }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                failures += 1
                logger.warning("listening for job notifications failed; reconnecting",
                               metadata: ["error": "\(error)", "attempt": "\(failures)"])
                let pause = min(5_000, 50 << min(failures, 7))
                try? await Task.sleep(for: .milliseconds(Int.random(in: pause / 2...pause)))
            }
        }
    }

    /// Runs `body` while this call holds a lease on `role`, a row of the
    /// schema's `ml_roles` table; returns `nil` when another holder's lease
    /// has not expired.
    ///
    /// The lease lasts ``roleStallTimeout`` and is renewed every third of
    /// that while `body` runs, then given up. A holder that stalls (a stopped
    /// process, a partitioned machine) stops renewing, so the role is free
    /// again within ``roleStallTimeout`` instead of blocking every other
    /// process. No connection or transaction stays open meanwhile: `body` may
    /// use the whole pool. A holder stalled longer than the lease may overlap
    /// with the next one, so a role must guard work that is safe, only
    /// wasteful, to do twice.
    public func exclusively<T: Sendable>(_ role: String, _ body: () async throws -> T) async throws -> T? {
        let lease = RoleLease(role: role, holder: UUID().uuidString, milliseconds: Self.milliseconds(Self.roleStallTimeout))
        guard try await acquire(lease) else { return nil }
        do {
            let result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.keepRenewing(lease) }
                defer { group.cancelAll() }
                return try await body()
            }
            try? await release(lease)
            return result
        } catch {
            try? await release(lease)
            throw error
        }
    }

    /// How long a holder of an ``exclusively(_:_:)`` role may stall before
    /// its lease expires and frees the role: 3 s.
    public static let roleStallTimeout: Duration = .seconds(3)

    /// One call's hold on a role.
    private struct RoleLease: Sendable {
        let role: String
        let holder: String
        let milliseconds: Int64
    }

    /// Takes the role if nobody holds it or its holder's lease has expired,
    /// by the server's clock so that processes need not agree on time.
    private func acquire(_ lease: RoleLease) async throws -> Bool {
        try await withSQL { sql in
            try await sql.one(
                """
                INSERT INTO \(unescaped: tables.roles) AS r (role, holder, expires_at)
                VALUES (\(lease.role), \(lease.holder), clock_timestamp() + \(lease.milliseconds) * interval '1 millisecond')
                ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE r.expires_at < clock_timestamp()
                RETURNING true
                """, as: Bool.self) == true
        }
    }

    /// Extends the lease every third of its length until cancelled. A failed
    /// renewal is logged and tried again: at worst the lease expires and another
    /// holder overlaps, which ``exclusively(_:_:)`` allows for.
    private func keepRenewing(_ lease: RoleLease) async {
        while true {
            do {
                try await Task.sleep(for: .milliseconds(lease.milliseconds / 3))
            } catch {
                return
            }
            do {
                let held = try await withSQL { sql in
                    try await sql.one(
                        """
                        UPDATE \(unescaped: tables.roles)
                        SET expires_at = clock_timestamp() + \(lease.milliseconds) * interval '1 millisecond'
                        WHERE role = \(lease.role) AND holder = \(lease.holder)
                        RETURNING true
                        """, as: Bool.self) == true
                }
                if !held {
                    logger.warning("a role lease expired while its holder still ran", metadata: ["role": "\(lease.role)"])
                }
            } catch {
                guard !Task.isCancelled else { return }
                logger.warning("renewing a role lease failed", metadata: ["role": "\(lease.role)", "error": "\(error)"])
            }
        }
    }

    /// Gives the role up at once, if this call still holds it.
    private func release(_ lease: RoleLease) async throws {
        try await withSQL { sql in
            try await sql.execute(
                "DELETE FROM \(unescaped: tables.roles) WHERE role = \(lease.role) AND holder = \(lease.holder)")
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}

extension PostgresMLPersistence: MLServerClock {
    /// The server's `clock_timestamp()`, in epoch milliseconds.
    public func serverTimeMs() async throws -> Int64 {
        try await transaction(isolation: nil) { sql in
            guard let now = try await sql.one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", as: Int64.self)
            else { throw MLPersistenceError.backend("the server did not tell the time") }
            return now
        }
    }
}
