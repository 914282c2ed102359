import Logging
import RedMLCore
import RedMLPersistence

extension MLJobQueue {
    /// Requeues running jobs whose lease ran out (their worker died or
    /// stalled); returns how many. Any live process may do this: each rescue
    /// is conditional on the job record, so two rescuers cannot both win.
    /// The interrupted attempt does not count as a failure, but a job whose
    /// lease has run out ``Configuration/maximumLeaseExpiries`` times fails
    /// (it is counted among those returned).
    ///
    /// On a store shared by many machines (``MLClaimingStore``), one process
    /// at a time does it: the others find the role taken and return 0.
    @discardableResult
    public func rescueExpiredLeases(limit: Int = 500) async throws -> Int {
        guard let claiming = store as? any MLClaimingStore else { return try await rescueNow(limit: limit) }
        return try await claiming.exclusively("lease_rescuer") { try await self.rescueNow(limit: limit) } ?? 0
    }

    /// Running jobs whose lease ran out by `now`, earliest first; stale index
    /// entries and unreadable records are cleared on the way.
    private func expiredLeases(now: Int64, limit: Int) async throws -> [(job: MLJob, revision: MLRevision)] {
        if let table {
            let records = try await table.expiredJobLeases(atMs: now, limit: max(1, limit))
            let (expired, unreadable) = Self.read(records, status: "running", logger: logger)
            if !unreadable.isEmpty { try await table.setJobsAside(keys: unreadable) }
            return expired
        }
        let page = try await store.page(namespace: MLNamespace.jobLeases, MLPageRequest(limit: max(1, limit)))
        var expired: [(job: MLJob, revision: MLRevision)] = []
        for entry in page.entries {
            guard let (expiry, id) = QueueKeys.parseTimed(entry.key) else { continue }
            guard expiry <= now else { break }  // sorted by expiry: the rest are live
            guard let (job, revision) = try await loadIndexedJob(id, MLNamespace.jobLeases, entry) else { continue }
            guard job.status == .running, let lease = job.leaseExpiresAtMs, lease <= now else {
                if job.status != .running || job.leaseExpiresAtMs != expiry {
                    try await dropIndexEntry(MLNamespace.jobLeases, entry)  // stale entry
                }
                continue
            }
            expired.append((job, revision))
        }
        return expired
    }

    private func rescueNow(limit: Int) async throws -> Int {
        let now = clock.nowMs
        var rescued = 0
        for (job, revision) in try await expiredLeases(now: now, limit: limit) {
            var transition = JobTransition(job, revision: revision, nowMs: now)
            transition.job.leaseExpiries += 1
            let expiries = transition.job.leaseExpiries
            let maximum = max(1, configuration.maximumLeaseExpiries)
            // A job someone asked to stop is not worth restarting.
            let status: MLJob.Status = job.cancelRequested ? .cancelled : expiries >= maximum ? .failed : .queued
            if status == .failed {
                transition.job.error = "its lease ran out \(expiries) times: each time, the worker running it stopped "
                    + "renewing it (the process died or stalled); a job fails after \(maximum) "
                    + "(MLJobQueue.Configuration.maximumLeaseExpiries)"
            }
            transition.job.release(to: status, at: now)
            do {
                try await commit(transition, reason: "lease_expired", detail: job.worker.map { "worker \($0) stopped renewing" })
                rescued += 1
                if status == .failed {
                    logger.warning("failed a job whose lease ran out too often",
                                   metadata: ["job_id": "\(job.key)", "worker": "\(job.worker ?? "?")", "lease_expiries": "\(expiries)"])
                } else {
                    logger.info("requeued a job whose lease expired", metadata: ["job_id": "\(job.key)", "worker": "\(job.worker ?? "?")"])
                }
            } catch let error as MLPersistenceError {
                guard case .conflict = error else { throw error }  // renewed or finished meanwhile
                // Or its record is behind its history, and every pass would conflict the same way.
                if let table {
                    try await setAsideJobWithHistoryAhead(job, revision: revision, in: table)
                } else {
                    try await dropLeaseOfJobWithHistoryAhead(job, revision: revision)
                }
            }
        }
        if rescued > 0 { try await announceReadyJobs() }
        metrics.rescued(rescued)
        return rescued
    }

    /// On a store with a job table, reclaims the space that changes left
    /// behind when there is enough of it (``MLJobTableStore/reclaimJobSpace()``),
    /// in one process at a time; returns whether it did. Elsewhere does nothing.
    @discardableResult
    public func reclaimJobSpace() async throws -> Bool {
        guard let table else { return false }
        return try await table.exclusively("job_space") { try await table.reclaimJobSpace() } ?? false
    }

    /// Moves delayed and backed-off jobs whose time has come to the ready
    /// index; returns how many.
    @discardableResult
    public func promoteScheduledJobs(limit: Int = 500) async throws -> Int {
        try await promoteDueJobs(limit: limit).promoted
    }

    /// ``promoteScheduledJobs(limit:)``, also telling when the earliest job
    /// left scheduled is due (now, if the page was full), or `nil` if none is.
    func promoteDueJobs(limit: Int = 500) async throws -> (promoted: Int, nextDueMs: Int64?) {
        let now = clock.nowMs
        if let table {
            // The table tells other processes itself, in the promoting transaction.
            let result = try await table.promoteDueJobs(atMs: now, limit: max(1, limit))
            if result.promoted > 0 { jobsArrived() }
            return result
        }
        let page = try await store.page(namespace: MLNamespace.jobScheduled, MLPageRequest(limit: max(1, limit)))
        var promoted = 0
        var nextDueMs: Int64? = page.nextCursor == nil ? nil : now
        for entry in page.entries {
            guard let (runAt, id) = QueueKeys.parseTimed(entry.key) else { continue }
            guard runAt <= now else {
                nextDueMs = runAt
                break
            }
            guard let (job, revision) = try await loadIndexedJob(id, MLNamespace.jobScheduled, entry) else { continue }
            guard job.status == .queued, job.runAtMs == runAt else {
                try await dropIndexEntry(MLNamespace.jobScheduled, entry)
                continue
            }
            var batch = MLBatch()
            batch.require(namespace: MLNamespace.jobs, key: job.key, .revision(revision))
            batch.delete(namespace: MLNamespace.jobScheduled, key: entry.key, if: .revision(entry.revision))
            batch.put(namespace: MLNamespace.jobReady, key: QueueKeys.ready(job), value: job.key)
            do {
                try await commitTransition(batch)
                promoted += 1
            } catch let error as MLPersistenceError {
                guard case .conflict = error else { throw error }
            }
        }
        if promoted > 0 { try await announceReadyJobs() }
        return (promoted, nextDueMs)
    }

    /// Wakes this process's claim loops and, on a store that can, every other
    /// process's: jobs became ready without a submission announcing them.
    func announceReadyJobs() async throws {
        jobsArrived()
        if let claiming = claimingStore {
            try await claiming.commit(MLBatch(), notifying: readyTopic)
        }
    }

    /// Commits a job transition: a batch conditional on the job record's
    /// revision, which needs no more isolation than its row locks give.
    /// Transitions that arrive while another commits go in one group commit.
    @discardableResult
    func commitTransition(_ batch: MLBatch) async throws -> MLRevision {
        if immediate { return try await store.commit(batch) }  // nothing to share: no I/O to wait for
        return try await transitions.commit(batch)
    }

    /// Commits `transition` with its event (when `reason` is given), to the
    /// job table or as a key-value batch; returns the revision and the job as written.
    @discardableResult
    func commit(
        _ transition: JobTransition, reason: String?, detail: String? = nil
    ) async throws -> (revision: MLRevision, job: MLJob) {
        if let tableWrites {
            let (write, job) = transition.tableWrite(reason: reason, detail: detail)
            return (try await tableWrites.commit(write), job)
        }
        let (batch, job) = transition.finished(reason: reason, detail: detail)
        return (try await commitTransition(batch), job)
    }

    /// The job an index entry points at; `nil` (and the entry dropped) when
    /// the job is gone or its record is corrupt, so that one bad record cannot
    /// stall the index for everyone behind it. A corrupt record stays in
    /// `jobs`, where listings report it.
    func loadIndexedJob(_ id: UInt128, _ namespace: String, _ entry: MLEntry) async throws -> (job: MLJob, revision: MLRevision)? {
        do {
            if let found = try await loadJob(id) { return found }
        } catch let error as MLPersistenceError {
            guard case .corruption = error else { throw error }
            logger.error("dropped an index entry whose job record is corrupt",
                         metadata: ["job_id": "\(MLKey.job(id))", "index": "\(namespace)", "error": "\(error)"])
        }
        try await dropIndexEntry(namespace, entry)
        return nil
    }

    /// A corruption error naming `job` if its history already holds the event
    /// its next transition would add while its record is still at `revision`:
    /// the record's event count is behind its history (a hand edit, a record
    /// restored alone), so every transition would conflict on that event, as if
    /// another writer kept winning. `nil` otherwise (a race lost).
    func historyAhead(of job: MLJob, revision: MLRevision) async throws -> MLPersistenceError? {
        let next = QueueKeys.event(job, job.eventCount + 1)
        if let table {
            // Most conflicts are a race lost, the row moved on: only an unchanged row is worth reading
            // its whole history for. Named as `history(of:)` names the table's events.
            guard try await table.jobRecord(key: job.key)?.revision == revision,
                try await table.numberedJobEvents(key: job.key).contains(where: { $0.sequence == job.eventCount + 1 }),
                // Re-read after the events: a row and its event are committed together.
                try await table.jobRecord(key: job.key)?.revision == revision
            else { return nil }
        } else {
            guard try await store.entry(namespace: MLNamespace.jobHistory, key: next) != nil,
                // Re-read after the event: a record and its event are committed together.
                try await store.entry(namespace: MLNamespace.jobs, key: job.key)?.revision == revision
            else { return nil }
        }
        return MLPersistenceError.corruptValue(
            namespace: MLNamespace.jobs, key: job.key,
            reason: "the record counts \(job.eventCount) history events, but \(MLNamespace.jobHistory)/\(next) exists")
    }

    /// After a claim failed on a conflict over a new history event: drops the
    /// ready entry of the job it names if that job's record is behind its
    /// history (see ``historyAhead(of:revision:)``), so that one damaged job
    /// cannot fail every claim of its queue. Returns whether it dropped one.
    func dropJobWithHistoryAhead(after error: any Error) async throws -> Bool {
        guard let error = error as? MLPersistenceError,
            case .conflict(MLNamespace.jobHistory, let key, let expected, _) = error, expected == .absent,
            let slash = key.firstIndex(of: "/"), let id = MLKey.parseJob(String(key[..<slash])),
            let (job, revision) = try await loadJob(id), job.status == .queued
        else { return false }
        // The record stays, queued, for an operator to repair; the error names it.
        return try await dropEntry(
            MLNamespace.jobReady, QueueKeys.ready(job), ofJobWithHistoryAhead: job, revision: revision,
            "dropped the ready entry of a job whose record is behind its history")
    }

    /// After a rescue of `job` (read at `revision`) failed on a conflict:
    /// drops its lease entry if its record is behind its history (see
    /// ``historyAhead(of:revision:)``), so that the rescue does not fail on it
    /// every pass in silence. The record stays, running, for an operator to
    /// repair; `redml store check` reports it as a running job without a lease entry.
    private func dropLeaseOfJobWithHistoryAhead(_ job: MLJob, revision: MLRevision) async throws {
        guard let expiry = job.leaseExpiresAtMs else { return }
        try await dropEntry(
            MLNamespace.jobLeases, QueueKeys.lease(expiry, job), ofJobWithHistoryAhead: job, revision: revision,
            "dropped the lease entry of a running job whose record is behind its history; it is not requeued")
    }

    /// After a rescue of `job` (read at `revision`) from a job table failed on
    /// a conflict: sets the job aside if its record is behind its history (see
    /// ``historyAhead(of:revision:)``), as a claim does with such a queued job,
    /// so that no later pass picks it and fails on it again in silence. Neither
    /// requeued (its next attempt would fail the same way) nor given an event
    /// after the existing ones (that would hide the damage): the record and
    /// history stay as they are for an operator, and `status=set_aside` lists it.
    private func setAsideJobWithHistoryAhead(
        _ job: MLJob, revision: MLRevision, in table: any MLJobTableStore
    ) async throws {
        guard let corruption = try await historyAhead(of: job, revision: revision) else { return }
        try await table.setJobsAside(keys: [job.key])
        logger.error("set aside a running job whose record is behind its history; it is not requeued",
                     metadata: ["job_id": "\(job.key)", "worker": "\(job.worker ?? "?")", "error": "\(corruption)"])
    }

    /// Drops the index entry `namespace/key` of `job` (read at `revision`) if
    /// the job's record is behind its history, logging `message` with the
    /// corruption; returns whether it did.
    @discardableResult
    private func dropEntry(
        _ namespace: String, _ key: String, ofJobWithHistoryAhead job: MLJob, revision: MLRevision,
        _ message: Logger.Message
    ) async throws -> Bool {
        guard let corruption = try await historyAhead(of: job, revision: revision),
            let entry = try await store.entry(namespace: namespace, key: key)
        else { return false }
        logger.error(message, metadata: ["job_id": "\(job.key)", "worker": "\(job.worker ?? "?")", "error": "\(corruption)"])
        try await dropIndexEntry(namespace, entry)
        return true
    }

    /// Removes an index entry whose job moved on, if it is still the one read.
    func dropIndexEntry(_ namespace: String, _ entry: MLEntry) async throws {
        var batch = MLBatch()
        batch.delete(namespace: namespace, key: entry.key, if: .revision(entry.revision))
        do {
            try await store.commit(batch)
        } catch let error as MLPersistenceError {
            guard case .conflict = error else { throw error }
        }
    }
}
