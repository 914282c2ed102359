import Foundation
import Logging
import Metrics
import RedMLCore
import RedMLPersistence
import Synchronization

/// The job queue's client side: submit, read, list, cancel and watch jobs.
///
/// Jobs live in any ``MLStore``; ``MLJobWorkers`` run them. Every transition is
/// one atomic batch conditional on the job record's revision, so it is
/// persisted before it is acknowledged and two writers never both win.
/// Nothing about finished jobs is held in memory: memory is bounded by the
/// jobs this process is running.
public final class MLJobQueue: Sendable {
    /// Settings, each with a documented default.
    public struct Configuration: Sendable {
        /// Time for timestamps, schedules, leases and backoff. Default: the
        /// system clock, kept to the clock of the store's server when the store
        /// has one (PostgreSQL; see ``MLJobQueue/alignClock()``).
        public var clock: any MLClock = MLAlignedClock()
        /// How often ``updates(of:)`` looks at a job. Default: 100 ms.
        public var watchInterval: Duration = .milliseconds(100)
        /// A job whose lease runs out this many times (its worker died or
        /// stalled each time it ran it, as when the job itself crashes the
        /// process) fails instead of being queued again. Lost leases use up no
        /// attempt, so without this bound such a job would run forever. Values
        /// below 1 count as 1. Default: 10.
        public var maximumLeaseExpiries = 10
        /// Where the queue logs. Default: a logger that discards everything.
        public var logger = Logger(label: "redml.queue", factory: { _ in SwiftLogNoOpLogHandler() })

        /// Where the queue's metrics go. Default: `nil`, the factory the
        /// application bootstrapped with `MetricsSystem.bootstrap` (if any).
        public var metricsFactory: (any MetricsFactory)?

        /// The defaults.
        public init() {}
    }

    /// The store the jobs live in.
    public let store: any MLStore
    let configuration: Configuration
    private let ids = Mutex(MLJobIDGenerator())
    /// Wakes this process's claim loops: when jobs may have become ready
    /// (``jobsArrived()``), a worker slot frees up, or the workers stop.
    let submitted = Signal()
    /// How many times jobs may have become ready since the queue was made.
    /// A claim loop whose last claim found no more jobs claims again when
    /// this moved on (or its poll interval passed), not whenever a slot frees
    /// up: on PostgreSQL such empty claims were half of all claims.
    private let arrivals = Atomic<Int>(0)

    /// ``arrivals`` now.
    var arrivalCount: Int { arrivals.load(ordering: .acquiring) }

    /// Tells this process's claim loops that jobs may have become ready.
    func jobsArrived() {
        arrivals.add(1, ordering: .releasing)
        submitted.signal()
    }

    /// The notification topic that says "jobs are ready", naming this queue:
    /// its own workers, woken by ``jobsArrived()`` already, pass over the echo
    /// of its notifications (a second, empty claim per job otherwise).
    let readyTopic = "job_ready/" + String(UInt64.random(in: 0...UInt64.max), radix: 16)

    /// Jobs this process is running, so a local cancel reaches them at once.
    let running = RunningJobs()
    /// The queue's counters and timers.
    let metrics: QueueMetrics
    /// The store's job table, when it keeps jobs in one (PostgreSQL); `nil`
    /// when jobs live in the key-value layer.
    let table: (any MLJobTableStore)?
    /// The store as ``MLClaimingStore`` and as ``MLIndexClaiming``, when it is:
    /// cast once here, not on every submission and claim.
    let claimingStore: (any MLClaimingStore)?
    let indexClaiming: (any MLIndexClaiming)?
    /// Job transitions, committed in groups under load (key-value layout).
    let transitions: GroupCommit<MLBatch>
    /// Whether the store answers at once (``MLImmediateStore``): its commits
    /// are not grouped, and its calls need no task that shutdown could give up on.
    let immediate: Bool
    /// Job transitions on a job table, committed in groups under load.
    let tableWrites: GroupCommit<MLJobWrite>?
    /// Single submissions to a job table, inserted in groups under load.
    let tableInserts: GroupCommit<MLNewJob>?
    /// Jobs submitted here, so claiming them skips decoding.
    let decoded = DecodedJobs()
    /// `queue/kind` of the jobs claims here passed over (no handler), each logged once.
    let passedOverKinds = Mutex<Set<String>>([])
    /// Where claims that ran out of scan stopped, so the next ones go on from there.
    let resume = ClaimResume()

    /// A queue over `store`. Reads nothing until used.
    public init(store: any MLStore, configuration: Configuration = Configuration()) {
        self.store = store
        self.configuration = configuration
        metrics = QueueMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        // Several commits in flight keep one slow commit (a row locked elsewhere) from holding up the
        // rest; a store with one writer runs them one at a time regardless, and one lane groups more
        // (SQLite, 256 slots, builds alternated: 17.2-17.6k jobs/s end to end with four lanes, 20.4-21.7k with one).
        let lanes = store is any MLSerialWriter ? 1 : 4
        immediate = store is any MLImmediateStore
        let claimingStore = store as? any MLClaimingStore
        self.claimingStore = claimingStore
        indexClaiming = store as? any MLIndexClaiming
        transitions = GroupCommit(maximumInFlight: lanes) { batch in
            if let claiming = claimingStore { return try await claiming.commitLocked(batch) }
            return try await store.commit(batch)
        }
        let table = store as? any MLJobTableStore
        self.table = table
        // A row costs about what a transition's four key-value operations do. One commit at a
        // time while they flow, so each carries more (PostgreSQL, alternated: 64-slot drain
        // 14.1-15.0k jobs/s against 10.9-11.6k with four, one-row steady state 2.1-2.3k against
        // 1.8-2.0k); four once one has run for 100 ms, so a row locked elsewhere holds up nothing else.
        tableWrites = table.map { table in
            GroupCommit(maximumInFlight: 4, whileFlowing: 1, cost: { 4 + $0.blobs.operations.count }) { writes in
                try await table.writeJobs(writes)
            }
        }
        // Submissions of one job each that arrive while one is being inserted go in together: one
        // statement and one commit for several callers, each of whom still waits for it. A group
        // that fails (a duplicate uniqueness key, a taken key) is inserted job by job, so each
        // caller gets its own answer.
        let topic = readyTopic
        tableInserts = table.map { table in
            GroupCommit(maximumInFlight: 4, whileFlowing: 1, cost: { _ in 4 }) { jobs in
                switch try await table.insertJobs(jobs, notifying: jobs.contains { $0.row.ready } ? topic : nil) {
                case .inserted(let revision): return revision
                case .duplicate(let record): throw DuplicateSubmission(record: record)
                }
            }
        }
    }

    var clock: any MLClock { configuration.clock }
    var logger: Logger { configuration.logger }

    // MARK: Submitting

    /// Submits a job and returns its id at once; a worker runs it later.
    ///
    /// With a ``MLJobSubmission/uniqueKey`` that a live job holds, nothing is
    /// submitted and that job's id is returned.
    @discardableResult
    public func submit(_ submission: MLJobSubmission) async throws -> UInt128 {
        try await submitJob(submission).id
    }

    /// Submits a job and returns its record (or, for a duplicate unique key, the live job's).
    public func submitJob(_ submission: MLJobSubmission) async throws -> MLJob {
        try await submitJobOrFindDuplicate(submission).job
    }

    /// Submits a job like ``submitJob(_:)`` and tells whether it did: with a
    /// ``MLJobSubmission/uniqueKey`` that a live job holds, nothing is
    /// submitted, and that job (whose kind, target and spec may differ) comes
    /// back with `isDuplicate` set.
    public func submitJobOrFindDuplicate(_ submission: MLJobSubmission) async throws -> (job: MLJob, isDuplicate: Bool) {
        try submission.validate()
        let now = clock.nowMs
        let job = makeJob(submission, nowMs: now)
        if let tableInserts {
            do {
                _ = try await tableInserts.commit(Self.newRow(job, nowMs: now))
            } catch let duplicate as DuplicateSubmission {
                return (try MLJob.decodeStored(duplicate.record.record, key: duplicate.record.key), true)
            }
            jobsArrived()
            metrics.submitted(job)
            return (job, false)
        }
        for _ in 0..<100 {
            var batch = MLBatch()
            if let unique = submission.uniqueKey {
                if let existing = try await liveJob(holding: unique) { return (existing, true) }
                batch.put(namespace: MLNamespace.jobUnique, key: unique, value: job.key, if: .absent)
            }
            let json = Self.addSubmitted(job, to: &batch, nowMs: now)
            do {
                try await commitSubmitted(batch, ready: job.runAtMs <= now)
                decoded.remember([job], storedAs: [json])
                jobsArrived()
                metrics.submitted(job)
                return (job, false)
            } catch let error as MLPersistenceError {
                // Only the unique key can conflict: another submission took it; look again.
                guard case .conflict(let namespace, _, _, _) = error, namespace == MLNamespace.jobUnique else {
                    throw error
                }
            }
        }
        throw MLJobError.invalid("unique key '\(submission.uniqueKey ?? "")' kept changing hands; nothing was submitted")
    }

    /// Submits many jobs in one atomic write and returns their records, in order.
    ///
    /// Either every job is submitted or none is. Submissions with a
    /// ``MLJobSubmission/uniqueKey`` are refused here (submit those one by one
    /// with ``submitJob(_:)``, which returns a live duplicate instead).
    public func submitJobs(_ submissions: [MLJobSubmission]) async throws -> [MLJob] {
        guard submissions.count <= 10_000 else {
            throw MLJobError.invalid("submit at most 10000 jobs at once, got \(submissions.count)")
        }
        for (index, submission) in submissions.enumerated() {
            try submission.validate()
            guard submission.uniqueKey == nil else {
                throw MLJobError.invalid("submission \(index) has unique key '\(submission.uniqueKey ?? "")'; "
                                         + "submit jobs with unique keys one by one")
            }
        }
        guard !submissions.isEmpty else { return [] }
        let now = clock.nowMs
        let jobs = submissions.map { makeJob($0, nowMs: now) }
        if let table {
            let ready = jobs.contains { $0.runAtMs <= now }
            guard case .inserted = try await table.insertJobs(jobs.map { Self.newRow($0, nowMs: now) },
                                                              notifying: ready ? readyTopic : nil)
            else { throw MLJobError(code: .persistence, message: "the job table reported a duplicate unique key for jobs without one") }
            jobsArrived()
            for job in jobs { metrics.submitted(job) }
            return jobs
        }
        var batch = MLBatch()
        let json = jobs.map { Self.addSubmitted($0, to: &batch, nowMs: now) }
        try await commitSubmitted(batch, ready: jobs.contains { $0.runAtMs <= now })
        decoded.remember(jobs, storedAs: json)
        jobsArrived()
        for job in jobs { metrics.submitted(job) }
        return jobs
    }

    /// A run-at time in whole milliseconds, never before it: a fraction of a
    /// millisecond rounds up. Read to the microsecond first, so that a `Date`
    /// made from whole milliseconds, which a `Double` holds only to a fraction
    /// of a microsecond, keeps its millisecond.
    static func runAtMs(_ date: Date) -> Int64 {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let ms = micros >= 0 ? (micros + 999) / 1_000 : micros / 1_000  // validated: 1970 or later
        // The last millisecond of 9999 may round up past it; it stays in 9999.
        return min(ms, latestRunAtMs)
    }

    /// The last millisecond of the year 9999, the latest run-at time a job takes.
    public static let latestRunAtMs: Int64 = 253_402_300_799_999

    /// ``latestRunAtMs`` in seconds since 1970.
    public static var latestRunAtSeconds: TimeInterval { TimeInterval(latestRunAtMs) / 1000 }

    /// A new queued job for `submission`, with a fresh id.
    private func makeJob(_ submission: MLJobSubmission, nowMs now: Int64) -> MLJob {
        let id = ids.withLock { $0.next(at: Date(timeIntervalSince1970: Double(now) / 1000)) }
        let runAt = submission.runAt.map(Self.runAtMs) ?? now
        return MLJob(
            id: id, kind: submission.kind, target: submission.target, status: .queued, progress: 0,
            queue: submission.queue, priority: submission.priority, attempt: 0, failures: 0,
            maxAttempts: submission.maxAttempts, error: nil, spec: submission.spec, metrics: nil, checkpoint: nil, checkpointBytes: nil,
            createdAtMs: now, startedAtMs: nil, finishedAtMs: nil, runAtMs: max(runAt, 0),
            uniqueKey: submission.uniqueKey,
            timeoutMs: submission.timeout.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 },
            worker: nil, leaseExpiresAtMs: nil, cancelRequested: false, eventCount: 1, updatedAtMs: now)
    }

    /// Adds the record, index entry and first history event of a new job to `batch`; returns the record's JSON.
    private static func addSubmitted(_ job: MLJob, to batch: inout MLBatch, nowMs now: Int64) -> String {
        let json = job.storedJSON
        batch.put(namespace: MLNamespace.jobs, key: job.key, value: json, if: .absent)
        JobIndexes.add(job, to: &batch, nowMs: now)
        batch.put(namespace: MLNamespace.jobHistory, key: QueueKeys.event(job, 1), value: submittedEvent(at: now).storedJSON)
        return json
    }

    /// A new job as a job table inserts it, with its first event.
    private static func newRow(_ job: MLJob, nowMs now: Int64) -> MLNewJob {
        MLNewJob(row: job.tableRow(nowMs: now),
                 event: MLJobEventRow(key: job.key, sequence: 1, record: submittedEvent(at: now).storedJSON))
    }

    /// A live job holds the uniqueness key of a submission inserted alone: that job's record.
    private struct DuplicateSubmission: Error {
        let record: MLJobRecord
    }

    /// Every job's first event.
    private static func submittedEvent(at now: Int64) -> MLJobEvent {
        MLJobEvent(sequence: 1, atMs: now, from: nil, to: .queued, attempt: 0, worker: nil, reason: "submitted", detail: nil)
    }

    private func commitSubmitted(_ batch: MLBatch, ready: Bool) async throws {
        if let claiming = claimingStore, ready {
            // Workers in other processes wake at once instead of at their next poll.
            try await claiming.commit(batch, notifying: readyTopic)
        } else {
            try await store.commit(batch)
        }
    }

    /// The live job that holds `unique`, clearing the key if its job is gone,
    /// finished or unreadable.
    private func liveJob(holding unique: String) async throws -> MLJob? {
        guard let entry = try await store.entry(namespace: MLNamespace.jobUnique, key: unique) else { return nil }
        if let id = MLKey.parseJob(entry.value) {
            do {
                if let job = try await job(id), !job.status.isTerminal { return job }
            } catch let error as MLPersistenceError {
                guard case .corruption = error else { throw error }
                // As a job table sets such a job aside: no claim runs it, so its key is free; the record
                // stays for listings to report.
                logger.error("freed the unique key of a job whose record is corrupt",
                             metadata: ["unique_key": "\(unique)", "job_id": "\(entry.value)", "error": "\(error)"])
            }
        }
        var batch = MLBatch()
        batch.delete(namespace: MLNamespace.jobUnique, key: unique, if: .revision(entry.revision))
        _ = try? await store.commit(batch)  // a conflict means someone else cleared or took it
        return nil
    }

    // MARK: Reading

    /// The job with this id, or `nil` if there is none.
    public func job(_ id: UInt128) async throws -> MLJob? {
        try await readJob(id)?.job
    }

    /// ``loadJob(_:)`` for those who read a job to show it: a job the queue can
    /// no longer move on (its record is behind its history, or a job table set
    /// it aside) is damage, thrown as a corruption error naming the record,
    /// rather than shown in a state it will never leave. On the key-value layout
    /// that costs one more lookup, of the history event its next transition would add.
    func readJob(_ id: UInt128) async throws -> (job: MLJob, revision: MLRevision)? {
        if let table {
            guard let record = try await table.jobRecord(key: MLKey.job(id)) else { return nil }
            if record.setAside { throw try await problem(of: record) }
            return (try MLJob.decodeStored(record.record, key: record.key), record.revision)
        }
        guard let found = try await loadJob(id) else { return nil }
        if let ahead = try await historyAhead(of: found.job, revision: found.revision) { throw ahead }
        return found
    }

    func loadJob(_ id: UInt128) async throws -> (job: MLJob, revision: MLRevision)? {
        let key = MLKey.job(id)
        if let table {
            guard let record = try await table.jobRecord(key: key) else { return nil }
            return (try MLJob.decodeStored(record.record, key: key), record.revision)
        }
        guard let entry = try await store.entry(namespace: MLNamespace.jobs, key: key) else { return nil }
        if let job = decoded.job(key, storedAs: entry.value) { return (job, entry.revision) }
        return (try MLJob.decodeStored(entry.value, key: key), entry.revision)
    }

    /// The job with this id; throws `unknown_job` if there is none, and
    /// `job_corrupt` (naming the record and the damage) if its record cannot be
    /// read or the queue can no longer move it on (see ``job(_:)``).
    public func requireJob(_ id: UInt128) async throws -> MLJob {
        try await require(id, readJob).job
    }

    /// The job `read` finds under `id`, with `requireJob`'s errors.
    private func require(
        _ id: UInt128, _ read: (UInt128) async throws -> (job: MLJob, revision: MLRevision)?
    ) async throws -> (job: MLJob, revision: MLRevision) {
        let found: (job: MLJob, revision: MLRevision)?
        do {
            found = try await read(id)
        } catch let error as MLPersistenceError {
            // Damage, not a failing store: reported as such, so it is not taken for an outage.
            guard case .corruption = error else { throw error }
            throw MLJobError.corrupt(id, error)
        }
        guard let found else { throw MLJobError.unknownJob(id) }
        return found
    }

    /// A page of jobs, newest first unless the query says otherwise; corrupt
    /// records are reported in ``MLJobPage/skipped``, not thrown. With the
    /// status ``MLJob/Status/setAside``, the page lists the jobs the queue
    /// cannot run in ``MLJobPage/setAside`` instead.
    public func jobs(_ query: MLJobQuery = MLJobQuery()) async throws -> MLJobPage {
        guard (1...1_000).contains(query.limit) else {
            throw MLJobError.invalid("page limit must be 1…1000, got \(query.limit)")
        }
        if query.status == .setAside { return try await setAsidePage(query) }
        if let table { return try await tablePage(table, query) }
        let request = MLPageRequest(after: query.after.map(MLKey.job), order: query.oldestFirst ? .ascending : .descending)
        let page = try await store.filteredPage(namespace: MLNamespace.jobs, request, limit: query.limit) { entry -> MLJob? in
            let job = try MLJob.decodeStored(entry.value, key: entry.key)
            if let status = query.status, job.status != status { return nil }
            if let kind = query.kind, job.kind != kind { return nil }
            if let queue = query.queue, job.queue != queue { return nil }
            return job
        }
        for error in page.skipped {
            logger.warning("skipped corrupt job record", metadata: ["error": "\(error)"])
        }
        return MLJobPage(jobs: page.items, nextCursor: page.nextCursor == nil ? nil : page.items.last?.id,
                         skipped: page.skipped)
    }

    /// A page of jobs from a job table, with the same reporting as the key-value layout's.
    private func tablePage(_ table: any MLJobTableStore, _ query: MLJobQuery) async throws -> MLJobPage {
        let (records, more) = try await table.jobPage(MLJobTableQuery(
            after: query.after.map(MLKey.job), descending: !query.oldestFirst, limit: query.limit,
            status: query.status?.rawValue, kind: query.kind?.rawValue, queue: query.queue))
        var jobs: [MLJob] = []
        var skipped: [MLPersistenceError] = []
        for record in records {
            do {
                // Listed, as the key-value layout lists an unreadable record: named under `skipped`.
                if record.setAside { throw try await problem(of: record) }
                jobs.append(try MLJob.decodeStored(record.record, key: record.key))
            } catch let error as MLPersistenceError {
                logger.warning("skipped corrupt job record", metadata: ["error": "\(error)"])
                skipped.append(error)
            }
        }
        let last = records.last.flatMap { MLKey.parseJob($0.key) }
        return MLJobPage(jobs: jobs, nextCursor: more ? last : nil, skipped: skipped)
    }

    /// A job's transitions, oldest first. Events that cannot be read are
    /// logged and left out; ``historyReport(of:)`` also names them.
    public func history(of id: UInt128) async throws -> [MLJobEvent] {
        try await historyReport(of: id).events
    }

    /// A job's transitions, oldest first, and the events that cannot be read,
    /// each logged and named in ``MLJobHistory/skipped`` rather than thrown:
    /// one damaged event must not hide the others.
    public func historyReport(of id: UInt128) async throws -> MLJobHistory {
        // Its record must read; one behind its history is no reason to hide that history.
        _ = try await require(id, loadJob)
        let key = MLKey.job(id)
        var entries: [(key: String, value: String)] = []
        if let table {
            // Named by their own sequence numbers: a damaged event after a gap is named as stored.
            entries = try await table.numberedJobEvents(key: key).map { sequence, record in
                (QueueKeys.event(key: key, sequence), record)
            }
        } else {
            var request = MLPageRequest(prefix: key + "/", limit: 500)
            while true {
                let page = try await store.page(namespace: MLNamespace.jobHistory, request)
                entries += page.entries.map { ($0.key, $0.value) }
                guard let cursor = page.nextCursor else { break }
                request.after = cursor
            }
        }
        let (events, skipped) = MLJSON.decodeAll(MLJobEvent.self, entries: entries, namespace: MLNamespace.jobHistory)
        for error in skipped {
            logger.warning("skipped corrupt job history event", metadata: ["job_id": "\(key)", "error": "\(error)"])
        }
        return MLJobHistory(events: events.map(\.value), skipped: skipped)
    }

    /// The job each time it changes (progress, status), starting with its
    /// current state and ending after a terminal state.
    public func updates(of id: UInt128) -> AsyncThrowingStream<MLJob, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var last: MLRevision?
                    while !Task.isCancelled {
                        // Gone or damaged, as `requireJob` reports it: the watcher is told which, not of an outage.
                        let (job, revision) = try await require(id, readJob)
                        if revision != last {
                            last = revision
                            continuation.yield(job)
                            if job.status.isTerminal { break }
                        }
                        try await clock.sleep(for: configuration.watchInterval)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Cancelling

    /// Cancels a job.
    ///
    /// A queued job is cancelled at once and never runs. A running job is
    /// asked to stop: its handler sees ``MLJobHandle/isCancelled`` and Swift
    /// task cancellation, and the job ends `cancelled` when the handler stops.
    /// A finished or unknown job reports ``MLCancelOutcome/notCancellable``.
    @discardableResult
    public func cancel(_ id: UInt128) async throws -> MLCancelOutcome {
        for _ in 0..<1_000 {
            guard let (job, revision) = try await loadJob(id), !job.status.isTerminal else { return .notCancellable }
            var transition = JobTransition(job, revision: revision, nowMs: clock.nowMs)
            let reason: String
            if job.status == .queued {
                transition.job.status = .cancelled
                transition.job.finishedAtMs = transition.nowMs
                reason = "cancelled"
            } else {
                guard !job.cancelRequested else { return .requested }
                transition.job.cancelRequested = true
                reason = "cancel_requested"
            }
            do {
                try await commit(transition, reason: reason)
                if job.status == .running { running.requestCancel(id) }
                return job.status == .queued ? .cancelled : .requested
            } catch let error as MLPersistenceError {
                guard case .conflict = error else { throw error }
                if let corruption = try await historyAhead(of: job, revision: revision) { throw corruption }
            }
        }
        throw MLJobError(code: .persistence, message: "job \(MLKey.job(id)) kept changing while being cancelled", jobID: id)
    }

    // MARK: Retention

    /// Deletes jobs that finished before `date` with their history, oldest
    /// first, at most `limit` of them; returns how many it deleted.
    ///
    /// Jobs are deleted about a thousand entries per write, so pruning a
    /// million jobs costs thousands of commits, not millions. Each deletion is
    /// conditional on the job's finished entry: a group that loses a race with
    /// another pruner is retried job by job.
    @discardableResult
    public func prune(finishedBefore date: Date, limit: Int = 1_000) async throws -> Int {
        let cutoff = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        if let table { return try await table.pruneJobs(finishedBeforeMs: cutoff, limit: max(1, limit)) }
        let page = try await store.page(namespace: MLNamespace.jobFinished, MLPageRequest(limit: max(1, limit)))
        var deleted = 0
        var group: [MLBatch] = []
        var groupOperations = 0
        for entry in page.entries {
            guard let (ms, id) = QueueKeys.parseTimed(entry.key) else {
                try await dropIndexEntry(MLNamespace.jobFinished, entry)  // not ours to read: do not let it block pruning
                continue
            }
            guard ms < cutoff else { break }
            let batch = try await deletion(of: id, finishedEntry: entry)
            group.append(batch)
            groupOperations += batch.operations.count
            if groupOperations >= Self.pruneOperationsPerWrite {
                deleted += try await commitPrunes(group)
                group = []
                groupOperations = 0
            }
        }
        deleted += try await commitPrunes(group)
        return deleted
    }

    /// Roughly how many deletions one prune write holds.
    static let pruneOperationsPerWrite = 1_000

    /// The batch that deletes job `id`, its record and its history, if its finished entry is unchanged.
    private func deletion(of id: UInt128, finishedEntry entry: MLEntry) async throws -> MLBatch {
        var batch = MLBatch()
        batch.delete(namespace: MLNamespace.jobFinished, key: entry.key, if: .revision(entry.revision))
        batch.delete(namespace: MLNamespace.jobs, key: MLKey.job(id))
        var history = MLPageRequest(prefix: MLKey.job(id) + "/", limit: 1_000)
        while true {
            let events = try await store.page(namespace: MLNamespace.jobHistory, history)
            for event in events.entries { batch.delete(namespace: MLNamespace.jobHistory, key: event.key) }
            guard let cursor = events.nextCursor else { break }
            history.after = cursor
        }
        return batch
    }

    /// Commits the deletions of `jobs` in one write, or job by job when
    /// another pruner deleted one of them first; returns how many this call deleted.
    private func commitPrunes(_ jobs: [MLBatch]) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        var all = MLBatch()
        for job in jobs { all.append(contentsOf: job) }
        do {
            try await store.commit(all)
            return jobs.count
        } catch MLPersistenceError.conflict {
            // Another pruner deleted one of them first: the others go one by one.
        }
        var deleted = 0
        for job in jobs {
            do {
                try await store.commit(job)
                deleted += 1
            } catch let error as MLPersistenceError {
                guard case .conflict = error else { throw error }
            }
        }
        return deleted
    }
}

/// What ``MLJobQueue/cancel(_:)`` did.
public enum MLCancelOutcome: Hashable, Sendable {
    /// The job was queued and is now cancelled; it will never run.
    case cancelled
    /// The job is running; its handler was asked to stop.
    case requested
    /// The job is finished or unknown: nothing was cancelled.
    case notCancellable
}

/// Which jobs to list.
public struct MLJobQuery: Hashable, Sendable {
    /// Start after this job id, in the query's order.
    public var after: UInt128?
    /// At most this many jobs (1...1000). Default 100.
    public var limit: Int
    /// Oldest first instead of newest first.
    public var oldestFirst: Bool
    /// Only jobs with this status; ``MLJob/Status/setAside`` lists the jobs
    /// set aside in ``MLJobPage/setAside`` instead.
    public var status: MLJob.Status?
    /// Only jobs of this kind.
    public var kind: MLJob.Kind?
    /// Only jobs in this queue.
    public var queue: String?

    /// Creates a query.
    public init(
        after: UInt128? = nil, limit: Int = 100, oldestFirst: Bool = false, status: MLJob.Status? = nil,
        kind: MLJob.Kind? = nil, queue: String? = nil
    ) {
        self.after = after
        self.limit = limit
        self.oldestFirst = oldestFirst
        self.status = status
        self.kind = kind
        self.queue = queue
    }
}

/// A job's history, as ``MLJobQueue/historyReport(of:)`` reads it.
public struct MLJobHistory: Equatable, Sendable {
    /// The events that could be read, oldest first.
    public var events: [MLJobEvent]
    /// Events found corrupt and skipped, each naming its key.
    public var skipped: [MLPersistenceError]
}

/// One page of jobs.
public struct MLJobPage: Equatable, Sendable {
    /// The jobs, in the query's order.
    public var jobs: [MLJob]
    /// Pass as ``MLJobQuery/after`` for the next page; `nil` at the end.
    public var nextCursor: UInt128?
    /// Records found corrupt and skipped.
    public var skipped: [MLPersistenceError]
    /// With the status filter ``MLJob/Status/setAside``, the jobs set aside,
    /// each named with what is wrong (`jobs` is then empty); empty otherwise.
    public var setAside: [MLSetAsideJob] = []
}
