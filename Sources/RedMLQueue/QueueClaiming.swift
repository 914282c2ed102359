import RedMLCore
import RedMLPersistence

extension MLJobQueue {
    /// Claims up to `limit` ready jobs of `queue` for `worker`: highest
    /// priority first, FIFO within a priority. Returns none when none is ready.
    ///
    /// On an ``MLIndexClaiming`` store the jobs are picked and taken in one
    /// transaction (which, on PostgreSQL, skips jobs other workers are
    /// claiming). Elsewhere the first ready jobs
    /// are taken in one conditional batch; if another worker took one of them
    /// first, one batch per job, where a worker that loses a race moves on to
    /// the next job.
    func claim(queue: String, worker: String, leaseMs: Int64, limit: Int) async throws -> [(job: MLJob, revision: MLRevision)] {
        try await claimReporting(queue: queue, worker: worker, leaseMs: leaseMs, limit: limit).jobs
    }

    /// Claims like ``claim(queue:worker:leaseMs:limit:)`` and tells whether
    /// the claim saw every ready job (`exhausted`), so a claim loop need not
    /// look again before the next wake-up.
    func claimReporting(queue: String, worker: String, leaseMs: Int64, limit: Int) async throws
        -> (jobs: [(job: MLJob, revision: MLRevision)], exhausted: Bool)
    {
        if let claiming = store as? any MLIndexClaiming {
            return try await claimLocked(claiming, queue: queue, worker: worker, leaseMs: leaseMs, limit: limit)
        }
        if limit > 1, let claimed = try await claimFirst(queue: queue, worker: worker, leaseMs: leaseMs, limit: limit) {
            return (claimed, claimed.isEmpty)
        }
        var claimed: [(job: MLJob, revision: MLRevision)] = []
        while claimed.count < limit, let next = try await claimOne(queue: queue, worker: worker, leaseMs: leaseMs) {
            claimed.append(next)
        }
        return (claimed, claimed.isEmpty)
    }

    private func claimLocked(
        _ store: any MLIndexClaiming, queue: String, worker: String, leaseMs: Int64, limit: Int
    ) async throws -> (jobs: [(job: MLJob, revision: MLRevision)], exhausted: Bool) {
        let clock = clock
        let logger = logger
        let decoded = decoded
        let (revision, (jobs, picked)) = try await store.claim(
            namespace: MLNamespace.jobReady, prefix: QueueKeys.readyPrefix(queue), limit: limit,
            recordNamespace: MLNamespace.jobs
        ) { candidates -> (MLBatch, ([MLJob], Int)) in
            // Read once the jobs are locked: the call may have waited for a connection meanwhile,
            // and an earlier time would start the lease (and the job) in the past.
            let now = clock.nowMs
            var batch = MLBatch()
            var jobs: [MLJob] = []
            for candidate in candidates {
                let entry = candidate.entry
                let job: MLJob
                do {
                    if let corruption = candidate.corruption { throw corruption }
                    job = try decoded.job(candidate.record.key, storedAs: candidate.record.value, forget: true)
                        ?? MLJob.decodeStored(candidate.record.value, key: candidate.record.key)
                } catch {
                    // The record stays in `jobs` for listings to report; its entry must not block the queue.
                    logger.error("dropped an index entry whose job record is corrupt",
                                 metadata: ["job_id": "\(candidate.record.key)", "index": "\(MLNamespace.jobReady)",
                                            "error": "\(error)"])
                    batch.delete(namespace: MLNamespace.jobReady, key: entry.key, if: .revision(entry.revision))
                    continue
                }
                guard job.status == .queued, QueueKeys.parseReady(entry.key) == job.id else {
                    batch.delete(namespace: MLNamespace.jobReady, key: entry.key, if: .revision(entry.revision))
                    continue
                }
                let (claim, claimed) = Self.claimTransition(
                    job, revision: candidate.record.revision, entry: entry, worker: worker, leaseMs: leaseMs, nowMs: now)
                batch.append(contentsOf: claim)
                jobs.append(claimed)
            }
            return (batch, (jobs, candidates.count))
        }
        for job in jobs { metrics.claimed(job) }
        // Fewer candidates than asked for: no other job was ready (or, on PostgreSQL, another
        // claimer holds the rest). Stale entries among the candidates are gone now.
        return (jobs.map { ($0, revision) }, picked < limit)
    }

    /// Claims the first `limit` ready jobs in one write; `nil` if another
    /// worker took one of them first (or none of them could be claimed).
    private func claimFirst(queue: String, worker: String, leaseMs: Int64, limit: Int) async throws
        -> [(job: MLJob, revision: MLRevision)]?
    {
        let page = try await store.page(
            namespace: MLNamespace.jobReady, MLPageRequest(prefix: QueueKeys.readyPrefix(queue), limit: limit))
        guard !page.entries.isEmpty else { return [] }
        let now = clock.nowMs
        var batch = MLBatch()
        var jobs: [MLJob] = []
        for entry in page.entries {
            guard let (claim, claimed) = try await claimTransition(of: entry, worker: worker, leaseMs: leaseMs, nowMs: now)
            else { continue }
            batch.append(contentsOf: claim)
            jobs.append(claimed)
        }
        guard !jobs.isEmpty else { return nil }
        do {
            let revision = try await store.commit(batch)
            for job in jobs { metrics.claimed(job) }
            return jobs.map { ($0, revision) }
        } catch let error as MLPersistenceError {
            guard case .conflict = error else { throw error }
            return nil  // another worker won one of them
        }
    }

    /// Claims the first ready job that no other worker takes first.
    private func claimOne(queue: String, worker: String, leaseMs: Int64) async throws -> (job: MLJob, revision: MLRevision)? {
        for _ in 0..<8 {
            let page = try await store.page(
                namespace: MLNamespace.jobReady, MLPageRequest(prefix: QueueKeys.readyPrefix(queue), limit: 8))
            guard !page.entries.isEmpty else { return nil }
            for entry in page.entries {
                guard let (batch, claimed) = try await claimTransition(
                    of: entry, worker: worker, leaseMs: leaseMs, nowMs: clock.nowMs)
                else { continue }
                do {
                    let newRevision = try await store.commit(batch)
                    metrics.claimed(claimed)
                    return (claimed, newRevision)
                } catch let error as MLPersistenceError {
                    guard case .conflict = error else { throw error }  // another worker won it
                }
            }
        }
        return nil
    }

    /// The batch that claims the job the ready entry `entry` points at, or
    /// `nil` when there is none to claim (a stale entry is dropped on the way).
    private func claimTransition(of entry: MLEntry, worker: String, leaseMs: Int64, nowMs: Int64) async throws
        -> (MLBatch, MLJob)?
    {
        guard let id = QueueKeys.parseReady(entry.key),
            let (job, revision) = try await loadIndexedJob(id, MLNamespace.jobReady, entry)
        else { return nil }
        guard job.status == .queued else {
            try await dropIndexEntry(MLNamespace.jobReady, entry)
            return nil
        }
        return Self.claimTransition(job, revision: revision, entry: entry, worker: worker, leaseMs: leaseMs, nowMs: nowMs)
    }

    /// The batch that starts an attempt of `job` for `worker`, found through the ready entry `entry`.
    private static func claimTransition(
        _ job: MLJob, revision: MLRevision, entry: MLEntry, worker: String, leaseMs: Int64, nowMs: Int64
    ) -> (MLBatch, MLJob) {
        var transition = JobTransition(job, revision: revision, nowMs: nowMs)
        transition.job.status = .running
        transition.job.attempt += 1
        transition.job.worker = worker
        transition.job.leaseExpiresAtMs = nowMs + leaseMs
        transition.job.startedAtMs = job.startedAtMs ?? nowMs
        // The ready entry must still be there: whoever removed it moved the job on. Usually it is
        // the entry the transition removes, and the removal checks it.
        if entry.key == QueueKeys.ready(job) {
            transition.readyEntryRevision = entry.revision
        } else {
            transition.batch.require(namespace: MLNamespace.jobReady, key: entry.key, .revision(entry.revision))
        }
        return transition.finished(reason: "claimed")
    }
}
