/// A job table that starts attempts itself: it picks ready jobs, rewrites
/// their records as claimed and adds their `claimed` events in one
/// statement, where ``MLJobTableStore/claimJobs(queue:kinds:limit:_:)``
/// hands the picked records to the queue and writes what it returns (on
/// PostgreSQL, four round trips instead of one).
///
/// The record changes exactly as the queue's own claim changes it (the
/// queue's stored JSON fields, see ``MLJobAttempts``), so a store offering
/// this knows the record's format; the queue's tests hold the two to the same
/// result. A store that wraps one must forward it, or the queue claims the
/// slower way.
public protocol MLJobAttemptStarting: MLJobTableStore {
    /// Picks up to `attempts.limit` ready jobs as ``MLJobTableStore/claimJobs(queue:kinds:limit:_:)``
    /// does and starts an attempt of each, in one transaction whose commit
    /// need not wait for the disk; returns their new records in the order
    /// picked, all at the one revision of the claim.
    ///
    /// Returns `nil`, having claimed nothing, when a picked record cannot be
    /// rewritten (it is not JSON, or its attempt or event count is not an
    /// integer): the caller then claims with `claimJobs`, which reads every
    /// record itself and sets aside those it cannot read.
    func startJobAttempts(_ attempts: MLJobAttempts) async throws -> [MLJobRecord]?
}

/// Which jobs ``MLJobAttemptStarting/startJobAttempts(_:)`` claims, and for whom.
///
/// Each claimed record gets, in the queue's stored field names: `status`
/// `running`; `attempt` and `event_count` one more than before (0 when
/// missing); `worker`; `lease_expires_at_ms` (`nowMs() + leaseMs`);
/// `started_at_ms` set to now unless it holds a time; `updated_at_ms` now.
/// Other fields stay as they were. Its event, at sequence `event_count`, has
/// `at_ms` now, `attempt`, `detail` null, `from` (the record's status before),
/// `reason` `claimed`, `sequence`, `to` `running` and `worker`.
public struct MLJobAttempts: Sendable {
    /// The named queue to claim from.
    public var queue: String
    /// Only jobs of these kinds (raw values), when given.
    public var kinds: [String]?
    /// At most this many jobs (at least 1).
    public var limit: Int
    /// The worker the attempts are for.
    public var worker: String
    /// How long the lease lasts from the claim, in milliseconds.
    public var leaseMs: Int64
    /// The time of the claim, in epoch milliseconds, read once the store holds
    /// a connection: a claim that waited for one starts its jobs (and their
    /// leases) when it runs, not when it was asked for.
    public var nowMs: @Sendable () -> Int64

    /// A request to claim.
    public init(
        queue: String, kinds: [String]?, limit: Int, worker: String, leaseMs: Int64, nowMs: @escaping @Sendable () -> Int64
    ) {
        self.queue = queue
        self.kinds = kinds
        self.limit = limit
        self.worker = worker
        self.leaseMs = leaseMs
        self.nowMs = nowMs
    }
}
