/// A store that can pick index entries and commit a batch built from them in
/// one transaction, so a claim needs no separate reads and cannot lose a race
/// to another claimer halfway.
///
/// The job queue claims through it when its store adopts it (the SQLite and
/// PostgreSQL backends do) and falls back to reads and a conditional batch
/// otherwise.
public protocol MLIndexClaiming: MLStore {
    /// Picks up to `limit` entries of `namespace` under `prefix`, in key
    /// order, each with the record it names (in `recordNamespace`, under the
    /// entry's value), and commits the batch `body` builds from them in the
    /// same transaction.
    ///
    /// Entries and records that another transaction holds are skipped rather
    /// than waited for, and the picked ones stay locked until the commit, so
    /// concurrent claimers take different entries instead of all racing for
    /// the first. (A store that runs one write transaction at a time, such as
    /// SQLite, picks inside that transaction and has nothing to skip.) Entries
    /// whose record is missing are not picked; an entry whose value or record
    /// cannot be read is picked with its ``MLClaimCandidate/corruption``.
    ///
    /// `body` may run more than once (a transaction that deadlocks is run
    /// again), so it must depend on nothing but its input.
    ///
    /// A store may acknowledge a claim before it is durable: a claim lost in
    /// a crash of the store's server leaves the entries as they were, so
    /// callers must fence later writes on the revisions they claimed at.
    ///
    /// With `after`, picking starts after that key (a caller that passed over
    /// some entries, jobs of a kind it does not run, say, pages on from the last
    /// one it saw), as ``MLPageRequest/after`` does for a page.
    ///
    /// - Returns: the revision of the committed batch (or, when `body`'s
    ///   batch is empty, of nothing) and `body`'s result.
    func claim<T: Sendable>(
        namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T)
}

extension MLIndexClaiming {
    /// Claims from the first entry under `prefix`; see ``claim(namespace:prefix:after:limit:recordNamespace:_:)``.
    public func claim<T: Sendable>(
        namespace: String, prefix: String, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        try await claim(namespace: namespace, prefix: prefix, after: nil, limit: limit, recordNamespace: recordNamespace, body)
    }
}

/// What a store shared by many processes can offer a busy job queue beyond
/// ``MLIndexClaiming``: contention-free commits, cross-process wake-ups and a
/// role only one process holds at a time.
///
/// It is optional. The queue uses it when its store adopts it (the PostgreSQL
/// backend does) and falls back to conditional batches and polling otherwise.
public protocol MLClaimingStore: MLIndexClaiming {
    /// Commits `batch` like ``MLStore/commit(_:)``, for a batch whose own
    /// conditions decide whether it may apply: each condition is checked with
    /// its row locked, so compare-and-swap stays exact, but nothing else in
    /// the transaction is isolated. Cheaper under contention than a
    /// serializable write; use it only when the batch does not depend on
    /// anything read outside it but the entries its conditions name.
    @discardableResult
    func commitLocked(_ batch: MLBatch) async throws -> MLRevision

    /// Commits `batch` like ``commitLocked(_:)`` and, once it is committed,
    /// notifies `topic` to every process listening with ``listen(_:)``. As
    /// there, the batch's own conditions must decide whether it may apply.
    @discardableResult
    func commit(_ batch: MLBatch, notifying topic: String) async throws -> MLRevision

    /// Calls `wake` with each topic notified by any process, until the
    /// calling task is cancelled. A lost connection is re-established with
    /// backoff; notifications sent meanwhile are lost, so listeners keep a
    /// slow poll as well.
    func listen(_ wake: @escaping @Sendable (String) -> Void) async throws

    /// Runs `body` unless another process is running a body for the same
    /// `role` right now; returns `nil` without running it then.
    func exclusively<T: Sendable>(_ role: String, _ body: () async throws -> T) async throws -> T?
}

/// An index entry offered to ``MLIndexClaiming/claim(namespace:prefix:after:limit:recordNamespace:_:)``,
/// with the record it names.
public struct MLClaimCandidate: Sendable, Hashable {
    /// The index entry.
    public var entry: MLEntry
    /// The record the entry's value names, as stored (it may be corrupt).
    public var record: MLEntry
    /// Why the entry's value or its record could not be read as stored (bytes
    /// that are not UTF-8 text, say), or `nil`. The unreadable value is empty
    /// here; the caller decides what becomes of the entry, which is still picked
    /// so that it is not passed over on every claim.
    public var corruption: MLPersistenceError?

    /// Creates a candidate.
    public init(entry: MLEntry, record: MLEntry, corruption: MLPersistenceError? = nil) {
        self.entry = entry
        self.record = record
        self.corruption = corruption
    }
}

/// A store kept by a server whose clock every process sharing the store can
/// read, so that processes on machines whose clocks disagree can agree on the
/// time (see ``MLAlignedClock``). The PostgreSQL backend adopts it.
public protocol MLServerClock: MLStore {
    /// The server's wall time now, in milliseconds since 1970-01-01 UTC.
    func serverTimeMs() async throws -> Int64
}

/// A store that applies one write transaction at a time, as SQLite's single
/// writer does. Commits that would run side by side elsewhere queue up here
/// anyway, so the job queue commits its transitions in one lane, where the
/// transitions that wait form bigger groups: fewer transactions for as many jobs.
public protocol MLSerialWriter: MLStore {}

/// A store whose calls answer at once: they wait for nothing but a lock held
/// for the length of one call (no disk, no network, no other transaction), as
/// the in-memory store's do. The job queue neither groups such a store's
/// commits nor runs its calls in tasks that shutdown can give up on, and its
/// workers run each job on the task that claimed it.
public protocol MLImmediateStore: MLStore {}
