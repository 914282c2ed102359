import RedMLCore
import RedMLPersistence

/// Checks a key-value store's job indexes against its job records, for an
/// integrity check that already reads every record (`redml store check`):
/// feed it each page of jobs, then call ``finish()``.
///
/// It reports what the queue cannot find or repair itself: a running job
/// without its lease entry, which no rescue finds if its worker dies, a
/// queued job in neither the ready nor the scheduled index, which no worker
/// claims, and a ready entry whose job record is gone. Only damage leaves either (a hand
/// edit, a record restored alone, a rescue that set a job aside because its
/// record is behind its history): every transition writes a job's record and
/// its index entries in one batch. A store with a job table keeps no such
/// indexes, so there is nothing to check.
package struct MLJobIndexCheck: Sendable {
    /// One problem: a stable code and a message naming the keys.
    package struct Problem: Equatable, Sendable {
        /// `running_job_without_lease`, `ready_entry_without_job` or `queued_job_without_entry`.
        package var code: String
        /// What is wrong, naming the record and the index entry.
        package var message: String
    }

    private let queue: MLJobQueue
    /// The ids of the queued jobs seen, whose ready entries are expected.
    private var queued: Set<UInt128> = []
    /// The problems found so far.
    package private(set) var problems: [Problem] = []

    /// A check of `queue`'s store.
    package init(queue: MLJobQueue) {
        self.queue = queue
    }

    /// Checks the lease entry of each running job among `jobs` and notes the queued ones.
    package mutating func check(_ jobs: [MLJob]) async throws {
        guard queue.table == nil else { return }
        for job in jobs {
            switch job.status {
            case .queued:
                queued.insert(job.id)
            case .running:
                if let problem = try await leaseProblem(job) { problems.append(problem) }
            default:
                break
            }
        }
    }

    /// Walks the ready index for entries whose job record is missing, and the
    /// ready and scheduled indexes for queued jobs that neither holds; call
    /// once every job has been checked.
    package mutating func finish() async throws {
        guard queue.table == nil else { return }
        var unindexed = queued
        try await queue.store.forEachEntry(in: MLNamespace.jobReady) { entry in
            guard let id = QueueKeys.parseReady(entry.key) else { return }
            // Most entries are queued jobs seen; only the others cost a lookup.
            guard unindexed.remove(id) == nil, !queued.contains(id),
                try await queue.store.entry(namespace: MLNamespace.jobs, key: MLKey.job(id)) == nil
            else { return }
            problems.append(Problem(
                code: "ready_entry_without_job",
                message: "\(MLNamespace.jobReady)/\(entry.key): no job record \(MLNamespace.jobs)/\(MLKey.job(id))"))
        }
        try await queue.store.forEachEntry(in: MLNamespace.jobScheduled) { entry in
            if let id = QueueKeys.parseTimed(entry.key)?.id { unindexed.remove(id) }
        }
        for id in unindexed.sorted() {
            // On a live store the job may have been claimed or cancelled since its page was read.
            guard let (job, _) = try await queue.loadJob(id), job.status == .queued,
                try await queue.store.entry(namespace: MLNamespace.jobReady, key: QueueKeys.ready(job)) == nil,
                try await queue.store.entry(namespace: MLNamespace.jobScheduled, key: QueueKeys.scheduled(job)) == nil
            else { continue }
            problems.append(Problem(
                code: "queued_job_without_entry",
                message: "\(MLNamespace.jobs)/\(job.key): queued, but neither \(MLNamespace.jobReady)/\(QueueKeys.ready(job)) "
                    + "nor \(MLNamespace.jobScheduled)/\(QueueKeys.scheduled(job)) exists, so no worker claims it; "
                    + "cancel it and submit it again"))
        }
    }

    /// The problem with running `job`'s lease entry, if it has none.
    private func leaseProblem(_ job: MLJob) async throws -> Problem? {
        if let expiry = job.leaseExpiresAtMs,
            try await queue.store.entry(namespace: MLNamespace.jobLeases, key: QueueKeys.lease(expiry, job)) != nil
        {
            return nil
        }
        // On a live store the job may have renewed its lease (a new entry) or finished since its page was read.
        guard let (now, _) = try await queue.loadJob(job.id), now.status == .running,
            now.leaseExpiresAtMs == job.leaseExpiresAtMs
        else { return nil }
        let lease = job.leaseExpiresAtMs.map { "no lease entry \(MLNamespace.jobLeases)/\(QueueKeys.lease($0, job))" }
            ?? "no lease expiry"
        return Problem(
            code: "running_job_without_lease",
            message: "\(MLNamespace.jobs)/\(job.key): running (worker \(job.worker ?? "?")) with \(lease), "
                + "so no rescue requeues it if its worker dies")
    }
}
