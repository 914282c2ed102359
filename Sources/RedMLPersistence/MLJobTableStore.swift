/// A store that keeps the job queue's jobs in a table of their own, with
/// typed columns to find them by, instead of in the generic key-value layer.
///
/// The queue uses it when the store offers it (PostgreSQL does): a job is
/// then one row, its history rows beside it, and a claim or a transition is
/// one statement, where the key-value layout writes a record, index entries
/// and an event, each as a key. The queue decides everything; the table only
/// stores, finds and locks. Rows carry the job's whole record as JSON (which
/// the table never reads) and the few fields the table finds jobs by.
///
/// Revisions work as in the key-value layer: every write of a row gives it the
/// commit's revision, and ``writeJobs(_:)`` is conditional on the revision the
/// writer read, which is how a worker that lost its lease is fenced off.
public protocol MLJobTableStore: MLClaimingStore {
    /// Inserts new jobs and their first events in one transaction and, with
    /// `topic`, notifies listeners (``MLClaimingStore/listen(_:)``) when it commits.
    ///
    /// A job whose ``MLJobRow/uniqueKey`` a live job (queued or running)
    /// holds is not inserted, and neither is anything else: the result is
    /// ``MLJobInsertion/duplicate(_:)`` with that live job's record.
    /// - Throws: ``MLPersistenceError/conflict(namespace:key:expected:found:)``
    ///   when a key is already taken.
    func insertJobs(_ jobs: [MLNewJob], notifying topic: String?) async throws -> MLJobInsertion

    /// The job stored under `key` (``MLKey/job(_:)``), or `nil`; its
    /// ``MLJobRecord/setAside`` tells whether it was set aside.
    func jobRecord(key: String) async throws -> MLJobRecord?

    /// Writes changed jobs, each only if its row is still at the revision its
    /// writer read, with their events and blob operations, all in one
    /// transaction; returns the revision every row now has.
    ///
    /// - Throws: ``MLPersistenceError/conflict(namespace:key:expected:found:)``
    ///   (namespace ``MLNamespace/jobs``) for the first row that moved on or
    ///   is gone; then nothing was written.
    @discardableResult
    func writeJobs(_ writes: [MLJobWrite]) async throws -> MLRevision

    /// Claims jobs: picks up to `limit` ready queued jobs of `queue` (of
    /// `kinds` only, when given), highest priority first and oldest key first
    /// within one, skipping rows another claim holds, and locks them; `body`
    /// turns them into writes (and may set some aside, see
    /// ``MLJobClaim/setAside``), which are applied in the same transaction.
    ///
    /// The commit need not wait for the disk: a claim lost in a crash only makes
    /// the job run again. Returns the revision of the writes (`nil` when there
    /// were none) and what `body` returned.
    func claimJobs<T: Sendable>(
        queue: String, kinds: [String]?, limit: Int,
        _ body: @escaping @Sendable ([MLJobRecord]) throws -> (MLJobClaim, T)
    ) async throws -> (MLRevision?, T)

    /// Running jobs whose lease expired at or before `atMs`, earliest first, at most `limit`.
    func expiredJobLeases(atMs: Int64, limit: Int) async throws -> [MLJobRecord]

    /// Makes queued jobs that are not ready and whose run-at time is at or
    /// before `atMs` ready, at most `limit`; returns how many, and when the
    /// earliest one left waiting is due (`atMs` when the limit cut it short,
    /// `nil` when none waits).
    func promoteDueJobs(atMs: Int64, limit: Int) async throws -> (promoted: Int, nextDueMs: Int64?)

    /// Sets jobs aside that cannot be read (a corrupt record): they stop
    /// being ready and their lease is forgotten, so that claims, promotion and
    /// rescues no longer pick them; listings still show them.
    func setJobsAside(keys: [String]) async throws

    /// A page of jobs ordered by key, after `after` when given, filtered by
    /// the columns given; `more` tells whether jobs follow. The records of jobs
    /// set aside are marked ``MLJobRecord/setAside`` (a status filter other
    /// than `set_aside` leaves them out).
    func jobPage(_ query: MLJobTableQuery) async throws -> (records: [MLJobRecord], more: Bool)

    /// The events of the job under `key`, in sequence order, as stored.
    func jobEvents(key: String) async throws -> [String]

    /// ``jobEvents(key:)`` with each event's sequence number, so that a
    /// history with a gap (a hand edit, a deleted row) names a damaged event
    /// by its own number, not by its place. By default, numbered by place.
    func numberedJobEvents(key: String) async throws -> [(sequence: Int, record: String)]

    /// Deletes at most `limit` jobs that finished before `finishedBeforeMs`,
    /// oldest first, with their events; returns how many it deleted.
    func pruneJobs(finishedBeforeMs: Int64, limit: Int) async throws -> Int

    /// How many live jobs there are: per queue, the ready ones; and in all,
    /// the ready, waiting (queued, not ready) and running ones.
    func liveJobCounts() async throws -> MLLiveJobCounts

    /// Reclaims the space of the rows that changes left behind (each
    /// transition and each pruned job leaves one), when there are enough of
    /// them to matter, so the tables stay the size of the jobs they hold however
    /// fast jobs pass through; returns whether it did. The queue's maintenance
    /// pass calls it (in one process at a time) every second or so.
    @discardableResult
    func reclaimJobSpace() async throws -> Bool
}

extension MLJobTableStore {
    /// The events of ``jobEvents(key:)``, numbered by place (1, 2, …): right
    /// unless the history has a gap, which a store that keeps sequence numbers
    /// tells by returning its own.
    public func numberedJobEvents(key: String) async throws -> [(sequence: Int, record: String)] {
        try await jobEvents(key: key).enumerated().map { ($0.offset + 1, $0.element) }
    }

    /// Calls `body` with each page of the jobs `query` selects (its `limit` is
    /// the page size), going on after the last key each time, so that every job
    /// is seen without holding them all.
    public func forEachJobPage(_ query: MLJobTableQuery, _ body: ([MLJobRecord]) async throws -> Void) async throws {
        var query = query
        while true {
            let (page, more) = try await jobPage(query)
            try await body(page)
            guard more, let last = page.last else { return }
            query.after = last.key
        }
    }
}

/// A job as a job table keeps it: the fields it is found by, and its whole record.
public struct MLJobRow: Hashable, Sendable {
    /// ``MLKey/job(_:)`` of the job's id.
    public var key: String
    /// The named queue.
    public var queue: String
    /// The kind's raw value.
    public var kind: String
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    public var status: String
    /// Higher runs first.
    public var priority: Int
    /// When the job may run next, in epoch milliseconds.
    public var runAtMs: Int64
    /// Whether a queued job may be claimed now (its run-at time had come
    /// when it was written, or it was promoted since). False for the others.
    public var ready: Bool
    /// When a running job's lease ends; `nil` for the others.
    public var leaseExpiresAtMs: Int64?
    /// When a finished job finished; `nil` for the others.
    public var finishedAtMs: Int64?
    /// The uniqueness key, which only a live (queued or running) job holds.
    public var uniqueKey: String?
    /// The job's whole record, as JSON.
    public var record: String

    /// A row with every field given.
    public init(
        key: String, queue: String, kind: String, status: String, priority: Int, runAtMs: Int64, ready: Bool,
        leaseExpiresAtMs: Int64?, finishedAtMs: Int64?, uniqueKey: String?, record: String
    ) {
        self.key = key
        self.queue = queue
        self.kind = kind
        self.status = status
        self.priority = priority
        self.runAtMs = runAtMs
        self.ready = ready
        self.leaseExpiresAtMs = leaseExpiresAtMs
        self.finishedAtMs = finishedAtMs
        self.uniqueKey = uniqueKey
        self.record = record
    }
}

/// One event of a job's history, as stored.
public struct MLJobEventRow: Hashable, Sendable {
    /// The job's key.
    public var key: String
    /// 1 for the first event, then one more each.
    public var sequence: Int
    /// The event, as JSON.
    public var record: String

    /// An event row.
    public init(key: String, sequence: Int, record: String) {
        self.key = key
        self.sequence = sequence
        self.record = record
    }
}

/// A job to insert, with its first event.
public struct MLNewJob: Hashable, Sendable {
    /// The job.
    public var row: MLJobRow
    /// Its first event.
    public var event: MLJobEventRow

    /// A new job.
    public init(row: MLJobRow, event: MLJobEventRow) {
        self.row = row
        self.event = event
    }
}

/// What ``MLJobTableStore/insertJobs(_:notifying:)`` did.
public enum MLJobInsertion: Sendable {
    /// Every job was inserted, at this revision.
    case inserted(MLRevision)
    /// Nothing was inserted: a live job holds a unique key; here it is.
    case duplicate(MLJobRecord)
}

/// A stored job: its record and the revision it was written at.
public struct MLJobRecord: Hashable, Sendable {
    /// The job's key.
    public var key: String
    /// The job's whole record, as JSON.
    public var record: String
    /// The revision of the last write.
    public var revision: MLRevision
    /// Whether the table set the job aside (``MLJobTableStore/setJobsAside(keys:)``):
    /// no claim, promotion or rescue picks it, whatever its record says. Told by
    /// ``MLJobTableStore/jobRecord(key:)`` and ``MLJobTableStore/jobPage(_:)``;
    /// `false` from the reads that only find live jobs.
    public var setAside: Bool

    /// A stored job.
    public init(key: String, record: String, revision: MLRevision, setAside: Bool = false) {
        self.key = key
        self.record = record
        self.revision = revision
        self.setAside = setAside
    }
}

/// A change of one job, conditional on the revision its writer read.
public struct MLJobWrite: Sendable {
    /// The job as it is to be (its key names the row).
    public var row: MLJobRow
    /// The revision the writer read: the write fails if the row has another.
    public var expected: MLRevision
    /// The event to append, if the change is one the history records.
    public var event: MLJobEventRow?
    /// Blob operations to apply with it (only `commitBlob` and `deleteBlob`),
    /// such as a checkpoint's bytes.
    public var blobs: MLBatch

    /// A write of `row`, conditional on `expected`.
    public init(row: MLJobRow, expected: MLRevision, event: MLJobEventRow?, blobs: MLBatch = MLBatch()) {
        self.row = row
        self.expected = expected
        self.event = event
        self.blobs = blobs
    }
}

/// What a claim does with the jobs it picked.
public struct MLJobClaim: Sendable {
    /// The claims, conditional like any write (the rows are locked, so only a
    /// write made before the lock can make them fail).
    public var writes: [MLJobWrite]
    /// Picked jobs whose record could not be read, to set aside
    /// (``MLJobTableStore/setJobsAside(keys:)``) in the same transaction.
    public var setAside: [String]

    /// A claim.
    public init(writes: [MLJobWrite], setAside: [String] = []) {
        self.writes = writes
        self.setAside = setAside
    }
}

/// Which jobs ``MLJobTableStore/jobPage(_:)`` returns.
public struct MLJobTableQuery: Hashable, Sendable {
    /// Only keys after this one, in the page's order.
    public var after: String?
    /// Newest (highest key) first.
    public var descending: Bool
    /// At most this many.
    public var limit: Int
    /// Only this status.
    public var status: String?
    /// Only this kind.
    public var kind: String?
    /// Only this queue.
    public var queue: String?

    /// A query.
    public init(
        after: String? = nil, descending: Bool = false, limit: Int = 100, status: String? = nil, kind: String? = nil,
        queue: String? = nil
    ) {
        self.after = after
        self.descending = descending
        self.limit = limit
        self.status = status
        self.kind = kind
        self.queue = queue
    }
}

/// Counts of live jobs.
public struct MLLiveJobCounts: Hashable, Sendable {
    /// Ready queued jobs per queue.
    public var readyByQueue: [String: Int]
    /// Queued jobs not ready yet (delayed, or waiting out a retry's backoff).
    public var waiting: Int
    /// Running jobs.
    public var running: Int

    /// Counts.
    public init(readyByQueue: [String: Int], waiting: Int, running: Int) {
        self.readyByQueue = readyByQueue
        self.waiting = waiting
        self.running = running
    }
}
