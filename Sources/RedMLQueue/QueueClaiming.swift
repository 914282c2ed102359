import Logging
import RedMLCore
import RedMLPersistence

extension MLJobQueue {
    /// Claims up to `limit` ready jobs of `queue` for `worker`: highest
    /// priority first, FIFO within a priority. Returns none when none is ready.
    ///
    /// With `kinds`, only jobs of those kinds are claimed; the others are
    /// passed over and stay queued for workers that run them.
    ///
    /// On an ``MLIndexClaiming`` store the jobs are picked and taken in one
    /// transaction (which, on PostgreSQL, skips jobs other workers are
    /// claiming). Elsewhere the first ready jobs
    /// are taken in one conditional batch; if another worker took one of them
    /// first, one batch per job, where a worker that loses a race moves on to
    /// the next job.
    func claim(
        queue: String, worker: String, leaseMs: Int64, limit: Int, kinds: Set<MLJob.Kind>? = nil
    ) async throws -> [(job: MLJob, revision: MLRevision)] {
        try await claimReporting(queue: queue, worker: worker, leaseMs: leaseMs, limit: limit, kinds: kinds).jobs
    }

    /// Claims like ``claim(queue:worker:leaseMs:limit:kinds:)`` and tells whether
    /// the claim saw every ready job it may take (`exhausted`), so a claim loop
    /// need not look again before the next wake-up.
    func claimReporting(
        queue: String, worker: String, leaseMs: Int64, limit: Int, kinds: Set<MLJob.Kind>? = nil
    ) async throws -> (jobs: [(job: MLJob, revision: MLRevision)], exhausted: Bool) {
        if let table {
            return try await claimFromTable(table, queue: queue, worker: worker, leaseMs: leaseMs, limit: limit, kinds: kinds)
        }
        if let claiming = indexClaiming {
            return try await claimLocked(claiming, queue: queue, worker: worker, leaseMs: leaseMs, limit: limit,
                                         kinds: kinds)
        }
        if let claimed = try await claimFirst(queue: queue, worker: worker, leaseMs: leaseMs, limit: limit, kinds: kinds) {
            return claimed
        }
        var claimed: [(job: MLJob, revision: MLRevision)] = []
        while claimed.count < limit {
            do {
                guard let next = try await claimOne(queue: queue, worker: worker, leaseMs: leaseMs, kinds: kinds) else { break }
                claimed.append(next)
            } catch where !claimed.isEmpty {
                // The jobs claimed so far are committed: run them rather than strand them until their leases expire.
                logger.warning("claiming failed; running the jobs claimed so far", metadata: ["error": "\(error)"])
                return (claimed, false)
            }
        }
        return (claimed, claimed.isEmpty)
    }

    /// How many ready entries one claim looks through at most when it passes
    /// over jobs (of kinds its worker does not run): past that, it waits for
    /// the next wake-up rather than scan a long queue of others' jobs, and the
    /// next claim goes on from where this one stopped (see ``ClaimResume``).
    static let claimScanLimit = 1_000

    /// How many candidates a claim takes at once after one that passed over
    /// jobs: with a slot or two free, one at a time would cost a transaction
    /// per job passed over.
    static let passOverBatch = 100

    /// Claims through ``MLIndexClaiming``, paging on past the jobs it passes over.
    private func claimLocked(
        _ store: any MLIndexClaiming, queue: String, worker: String, leaseMs: Int64, limit: Int,
        kinds: Set<MLJob.Kind>?
    ) async throws -> (jobs: [(job: MLJob, revision: MLRevision)], exhausted: Bool) {
        var claimed: [(job: MLJob, revision: MLRevision)] = []
        var scan = ClaimScan(queue: queue, kinds: kinds, resume: resume)
        var after: String?
        while true {
            let wanted = limit - claimed.count
            let size = scan.size(wanted: wanted)
            let round: (jobs: [(job: MLJob, revision: MLRevision)], picked: Int, lastKey: String?)
            do {
                round = try await claimLockedRound(
                    store, queue: queue, worker: worker, leaseMs: leaseMs, after: after, limit: size, take: wanted,
                    kinds: kinds)
            } catch {
                // One transaction claims the round, so a damaged job in it fails the round every time.
                if (try? await dropJobWithHistoryAhead(after: error)) == true { continue }
                guard !claimed.isEmpty else { throw error }
                // Earlier rounds committed their claims: run those jobs rather than strand them.
                logger.warning("claiming failed; running the jobs claimed so far", metadata: ["error": "\(error)"])
                return (claimed, false)
            }
            claimed += round.jobs
            // Fewer candidates than asked for: no other job was ready (or, on PostgreSQL, another
            // claimer holds the rest). Stale entries among the candidates are gone now.
            switch scan.next(picked: round.picked, lastKey: round.lastKey, reachedEnd: round.picked < size,
                             filled: claimed.count >= limit) {
            case .stop(let exhausted): return (claimed, exhausted)
            case .lookAfter(let key): after = key
            }
        }
    }

    /// One locked claim of up to `limit` candidates after `after`, taking at
    /// most `take` jobs; returns the jobs claimed, how many candidates were
    /// picked (all of them when `take` stopped it early, so the caller stops
    /// too), and the key of the last one looked at.
    private func claimLockedRound(
        _ store: any MLIndexClaiming, queue: String, worker: String, leaseMs: Int64, after: String?, limit: Int,
        take: Int, kinds: Set<MLJob.Kind>?
    ) async throws -> (jobs: [(job: MLJob, revision: MLRevision)], picked: Int, lastKey: String?) {
        let clock = clock
        let logger = logger
        let decoded = decoded
        let (revision, (jobs, passedOver, picked, lastKey)) = try await store.claim(
            namespace: MLNamespace.jobReady, prefix: QueueKeys.readyPrefix(queue), after: after, limit: limit,
            recordNamespace: MLNamespace.jobs
        ) { candidates -> (MLBatch, ([MLJob], [MLJob.Kind], Int, String?)) in
            // Read once the jobs are locked: the call may have waited for a connection meanwhile,
            // and an earlier time would start the lease (and the job) in the past.
            let now = clock.nowMs
            var batch = MLBatch()
            var jobs: [MLJob] = []
            var passedOver: [MLJob.Kind] = []
            var lastKey: String?
            for candidate in candidates {
                guard jobs.count < take else { break }  // the rest stay as they are, unlocked at the commit
                let entry = candidate.entry
                lastKey = entry.key
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
                guard kinds?.contains(job.kind) ?? true else {
                    passedOver.append(job.kind)  // another worker's to run: left as it is
                    continue
                }
                let (claim, claimed) = Self.claimTransition(
                    job, revision: candidate.record.revision, entry: entry, worker: worker, leaseMs: leaseMs, nowMs: now)
                batch.append(contentsOf: claim)
                jobs.append(claimed)
            }
            return (batch, (jobs, passedOver, candidates.count, lastKey))
        }
        for job in jobs { metrics.claimed(job) }
        notePassedOver(passedOver, queue: queue)
        return (jobs.map { ($0, revision) }, picked, lastKey)
    }

    /// Claims from a job table, which picks only the kinds given (others'
    /// jobs are neither read nor locked), in one transaction: started by the
    /// table itself when it can (``MLJobAttemptStarting``), else by the queue.
    private func claimFromTable(
        _ table: any MLJobTableStore, queue: String, worker: String, leaseMs: Int64, limit: Int, kinds: Set<MLJob.Kind>?
    ) async throws -> (jobs: [(job: MLJob, revision: MLRevision)], exhausted: Bool) {
        let wanted = min(max(1, limit), 10_000)
        let kindNames = kinds.map { $0.map(\.rawValue).sorted() }
        let clock = clock
        let logger = logger
        if let starting = table as? any MLJobAttemptStarting {
            let attempts = MLJobAttempts(
                queue: queue, kinds: kindNames, limit: wanted, worker: worker, leaseMs: leaseMs, nowMs: { clock.nowMs })
            if let records = try await starting.startJobAttempts(attempts) {
                return (await startedJobs(records, in: table), records.count < wanted)
            }
            logger.info("a ready job's record could not be claimed in the store; claiming through the queue instead",
                        metadata: ["queue": "\(queue)"])
        }
        let (revision, (jobs, picked)) = try await table.claimJobs(
            queue: queue, kinds: kindNames, limit: wanted
        ) { records -> (MLJobClaim, ([MLJob], Int)) in
            // Read once the jobs are locked: an earlier time would start the lease in the past.
            let now = clock.nowMs
            // A record that cannot be read stays for listings to report; it must not block the queue.
            let (readable, unreadable) = Self.read(records, status: "queued", logger: logger)
            var claim = MLJobClaim(writes: [], setAside: unreadable)
            var jobs: [MLJob] = []
            for (job, revision) in readable {
                var transition = JobTransition(job, revision: revision, nowMs: now)
                transition.job.startAttempt(worker: worker, leaseExpiresAtMs: now + leaseMs, at: now)
                let (write, claimed) = transition.tableWrite(reason: "claimed")
                claim.writes.append(write)
                jobs.append(claimed)
            }
            return (claim, (jobs, records.count))
        }
        for job in jobs { metrics.claimed(job) }
        guard let revision else { return ([], picked < wanted) }
        return (jobs.map { ($0, revision) }, picked < wanted)
    }

    /// The jobs a table claimed itself. One it claimed but the queue cannot
    /// read (a field of the wrong type) is set aside and not run, as a claim
    /// through the queue would have done, but with the table's `claimed` event
    /// in its history and its status `set_aside` in the table.
    private func startedJobs(
        _ records: [MLJobRecord], in table: any MLJobTableStore
    ) async -> [(job: MLJob, revision: MLRevision)] {
        let (jobs, unreadable) = Self.read(records, status: "queued", logger: logger)
        for (job, _) in jobs { metrics.claimed(job) }
        guard !unreadable.isEmpty else { return jobs }
        do {
            try await table.setJobsAside(keys: unreadable)
        } catch {
            // The jobs read are claimed: run them. The others' leases expire, and a later claim tries again.
            logger.error("could not set aside jobs whose record is corrupt",
                         metadata: ["job_ids": "\(unreadable)", "error": "\(error)"])
        }
        return jobs
    }

    /// The jobs of a job table's `records` that can be read, with their
    /// revisions, and the keys of the others, each logged as a `status` job
    /// set aside (the caller sets them aside).
    static func read(
        _ records: [MLJobRecord], status: String, logger: Logger
    ) -> (jobs: [(job: MLJob, revision: MLRevision)], unreadable: [String]) {
        var jobs: [(job: MLJob, revision: MLRevision)] = []
        var unreadable: [String] = []
        for record in records {
            do {
                jobs.append((try MLJob.decodeStored(record.record, key: record.key), record.revision))
            } catch {
                logger.error("set aside a \(status) job whose record is corrupt",
                             metadata: ["job_id": "\(record.key)", "error": "\(error)"])
                unreadable.append(record.key)
            }
        }
        return (jobs, unreadable)
    }

    /// Logs, once per kind and queue in this process, that jobs of a kind
    /// this worker has no handler for are left to others.
    private func notePassedOver(_ kinds: [MLJob.Kind], queue: String) {
        guard !kinds.isEmpty else { return }
        let new = passedOverKinds.withLock { seen in
            Set(kinds).filter { seen.insert("\(queue)/\($0)").inserted }
        }
        for kind in new.sorted(by: { $0.rawValue < $1.rawValue }) {
            logger.info("passing over jobs of a kind this worker has no handler for; they stay queued for workers that have one",
                        metadata: ["queue": "\(queue)", "kind": "\(kind)"])
        }
    }

    /// Claims the first `limit` ready jobs (of `kinds`) in one write; `nil`
    /// if another worker took one of them first (or none could be claimed).
    private func claimFirst(
        queue: String, worker: String, leaseMs: Int64, limit: Int, kinds: Set<MLJob.Kind>?
    ) async throws -> (jobs: [(job: MLJob, revision: MLRevision)], exhausted: Bool)? {
        let now = clock.nowMs
        var batch = MLBatch()
        var jobs: [MLJob] = []
        var passedOver: [MLJob.Kind] = []
        var scan = ClaimScan(queue: queue, kinds: kinds, resume: resume)
        // Every round asks for `limit`: nothing is taken until the one commit below.
        var request = MLPageRequest(prefix: QueueKeys.readyPrefix(queue), limit: scan.size(wanted: limit))
        var exhausted: Bool
        pages: while true {
            let page = try await store.page(namespace: MLNamespace.jobReady, request)
            entries: for entry in page.entries {
                switch try await claimTransition(of: entry, worker: worker, leaseMs: leaseMs, nowMs: now, kinds: kinds) {
                case .claim(let claim, let claimed):
                    batch.append(contentsOf: claim)
                    jobs.append(claimed)
                    if jobs.count == limit { break entries }
                case .passedOver(let kind):
                    passedOver.append(kind)
                case .none:
                    break
                }
            }
            let filled = jobs.count == limit
            switch scan.next(picked: page.entries.count, lastKey: page.nextCursor,
                             reachedEnd: !filled && page.nextCursor == nil, filled: filled) {
            case .stop(let stopExhausted):
                exhausted = stopExhausted
                break pages
            case .lookAfter(let key):
                request.after = key
                request.limit = scan.size(wanted: limit)
            }
        }
        notePassedOver(passedOver, queue: queue)
        guard !jobs.isEmpty else { return ([], exhausted) }  // nothing to take (yet): no race lost either
        do {
            let revision = try await store.commit(batch)
            for job in jobs { metrics.claimed(job) }
            return (jobs.map { ($0, revision) }, exhausted)
        } catch let error as MLPersistenceError {
            guard case .conflict = error else { throw error }
            return nil  // another worker won one of them
        }
    }

    /// Claims the first ready job (of `kinds`) that no other worker takes first.
    private func claimOne(
        queue: String, worker: String, leaseMs: Int64, kinds: Set<MLJob.Kind>?
    ) async throws -> (job: MLJob, revision: MLRevision)? {
        var request = MLPageRequest(prefix: QueueKeys.readyPrefix(queue), limit: 8)
        var scanned = 0
        var passedOver: [MLJob.Kind] = []
        defer { notePassedOver(passedOver, queue: queue) }
        while scanned < Self.claimScanLimit {
            let page = try await store.page(namespace: MLNamespace.jobReady, request)
            scanned += page.entries.count
            for entry in page.entries {
                switch try await claimTransition(
                    of: entry, worker: worker, leaseMs: leaseMs, nowMs: clock.nowMs, kinds: kinds)
                {
                case .claim(let batch, let claimed):
                    do {
                        let newRevision = try await store.commit(batch)
                        metrics.claimed(claimed)
                        return (claimed, newRevision)
                    } catch let error as MLPersistenceError {
                        guard case .conflict = error else { throw error }  // another worker won it
                        _ = try await dropJobWithHistoryAhead(after: error)  // or it is damaged, and would fail every claim
                    }
                case .passedOver(let kind):
                    passedOver.append(kind)
                case .none:
                    break
                }
            }
            guard let cursor = page.nextCursor else { return nil }
            request.after = cursor
        }
        return nil
    }

    /// What a ready entry offers a claimer.
    private enum ClaimOffer {
        /// The batch that claims the job, and the job as claimed.
        case claim(MLBatch, MLJob)
        /// A job of a kind the claimer does not run.
        case passedOver(MLJob.Kind)
    }

    /// What the ready entry `entry` offers, or `nil` when there is nothing to
    /// claim (a stale entry is dropped on the way).
    private func claimTransition(
        of entry: MLEntry, worker: String, leaseMs: Int64, nowMs: Int64, kinds: Set<MLJob.Kind>?
    ) async throws -> ClaimOffer? {
        guard let id = QueueKeys.parseReady(entry.key),
            let (job, revision) = try await loadIndexedJob(id, MLNamespace.jobReady, entry)
        else { return nil }
        guard job.status == .queued else {
            try await dropIndexEntry(MLNamespace.jobReady, entry)
            return nil
        }
        guard kinds?.contains(job.kind) ?? true else { return .passedOver(job.kind) }
        let (batch, claimed) = Self.claimTransition(
            job, revision: revision, entry: entry, worker: worker, leaseMs: leaseMs, nowMs: nowMs)
        return .claim(batch, claimed)
    }

    /// The batch that starts an attempt of `job` for `worker`, found through the ready entry `entry`.
    private static func claimTransition(
        _ job: MLJob, revision: MLRevision, entry: MLEntry, worker: String, leaseMs: Int64, nowMs: Int64
    ) -> (MLBatch, MLJob) {
        var transition = JobTransition(job, revision: revision, nowMs: nowMs)
        transition.job.startAttempt(worker: worker, leaseExpiresAtMs: nowMs + leaseMs, at: nowMs)
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
