import Foundation
import RedMLCore
import RedMLPersistence
import Synchronization

/// Why the lease keeper stopped a running job's handler.
enum StopReason: Sendable {
    /// Someone asked the job to stop.
    case cancelRequested
    /// Another worker holds the job now; this one must not write.
    case leaseLost
    /// The attempt ran past its timeout.
    case timedOut
    /// The workers are shutting down and the grace period is over.
    case interrupted
}

/// One claimed job while this process runs it: its latest record and
/// revision, the coalesced progress, and the lease it keeps renewing.
///
/// Every write is conditional on the revision this worker last wrote or
/// read. When another writer got in between, the record is read again: if
/// it still names this worker and attempt (the fencing number), the write is
/// merged and retried (an operator's cancel request, say); if not, the lease
/// is lost and the write fails.
final class JobRun: Sendable {
    private struct State {
        var job: MLJob
        var revision: MLRevision
        var progress: Double
        var progressWritten: Double
        var progressWrittenAtMs: Int64 = 0
        var leaseWrittenAtMs: Int64
        var cancelRequested: Bool
        var lost = false
        var checkpoint: MLJSONObject?
        var checkpointBytes: MLJob.CheckpointBytes?
        /// How to cancel each store call in flight (``storeCall(_:)``).
        var storeCalls: [Int: @Sendable () -> Void] = [:]
        var nextStoreCall = 0
        /// Set by ``abandonStoreCalls()``.
        var storeCallsAbandoned = false
        /// When the handler returned, once it has.
        var handlerReturnedAtMs: Int64?
        /// Stops the handler, while it runs (``handlerStarted(stop:)``).
        var stopHandler: (@Sendable (StopReason) -> Void)?
        /// Whether the pool's ``LeaseKeeper`` looks after the lease: from the
        /// handler's start until it returns.
        var watched = false
        /// When the attempt times out, if it has a timeout.
        var timeoutAtMs: Int64?
        /// Whether the handler was told to stop (once is enough; the lease is still renewed).
        var stopSent = false
        /// Whether the keeper handed on the loss of the lease.
        var lossSent = false
        /// Whether a renewal is in flight.
        var renewing = false
        /// When to try again after a renewal failed (the store could not be reached, say).
        var renewRetryAtMs: Int64?
        /// Resumed when the renewal in flight ends (``renewalSettled()``).
        var renewalWaiter: CheckedContinuation<Void, Never>?
    }

    let id: UInt128
    let attempt: Int
    let worker: String
    let queue: MLJobQueue
    private let timing: JobTiming
    private let state: Mutex<State>
    /// Wakes the pool's ``LeaseKeeper`` when this run needs it before its next
    /// due time: a cancel arrived in this process, or the lease was lost.
    private let keeperWake: Signal

    init(job: MLJob, revision: MLRevision, queue: MLJobQueue, timing: JobTiming, keeperWake: Signal) {
        self.keeperWake = keeperWake
        id = job.id
        attempt = job.attempt
        worker = job.worker ?? ""
        self.queue = queue
        self.timing = timing
        state = Mutex(State(
            job: job, revision: revision, progress: job.progress, progressWritten: job.progress,
            // The lease was written by the claim, which may be a while before this run starts.
            progressWrittenAtMs: queue.clock.nowMs,
            leaseWrittenAtMs: job.leaseExpiresAtMs.map { $0 - timing.leaseMs } ?? queue.clock.nowMs,
            cancelRequested: job.cancelRequested, checkpoint: job.checkpoint,
            checkpointBytes: job.checkpointBytes))
    }

    var lastCheckpoint: MLJSONObject? { state.withLock { $0.checkpoint } }
    var lastCheckpointBytes: MLJob.CheckpointBytes? { state.withLock { $0.checkpointBytes } }
    var cancelRequested: Bool { state.withLock { $0.cancelRequested } }
    var latest: MLJob { state.withLock { $0.job } }

    func setProgress(_ progress: Double) {
        let clamped = progress.isFinite ? min(100, max(0, progress)) : 0
        state.withLock { $0.progress = clamped }
    }

    func noteCancelRequested() {
        state.withLock { $0.cancelRequested = true }
        keeperWake.signal()
    }

    /// Records how to stop the running handler, for ``stop(_:)``.
    func handlerStarted(stop: @escaping @Sendable (StopReason) -> Void) {
        state.withLock { $0.stopHandler = stop }
    }

    /// Stops the handler for `reason` (the ``LeaseKeeper`` calls it).
    func stop(_ reason: StopReason) {
        state.withLock { $0.stopHandler }?(reason)
    }

    /// Records that the handler returned: from then on only the outcome's write is left.
    func handlerReturned(atMs now: Int64) {
        state.withLock { $0.handlerReturnedAtMs = now }
    }

    /// When the handler returned, if it has.
    var handlerReturnedAtMs: Int64? { state.withLock { $0.handlerReturnedAtMs } }

    /// Whether ``abandonStoreCalls()`` was called.
    var storeCallsAbandoned: Bool { state.withLock { $0.storeCallsAbandoned } }

    /// Whether the lease is known to be lost.
    var isLost: Bool { state.withLock { $0.lost } }

    /// Marks the lease lost: a later claim of the same job by this process
    /// superseded this run. (A claim that a database crash rolled back can be
    /// made again with the same attempt number and worker id, and this run's
    /// fencing check could not tell the two apart.)
    func supersede() {
        state.withLock { $0.lost = true }
        keeperWake.signal()
    }

    private func leaseLostError() -> MLJobError {
        MLJobError(code: .leaseLost,
                   message: "job \(MLKey.job(id)) attempt \(attempt) is no longer held by worker \(worker)", jobID: id)
    }

    // MARK: Writes

    /// Writes a change to the job, conditional on this worker's lease.
    @discardableResult
    func write(
        reason: String?, detail: String? = nil, committing blob: MLStagedBlob? = nil,
        _ change: (inout MLJob, Int64) -> Void
    ) async throws -> MLJob {
        var (job, revision) = state.withLock { ($0.job, $0.revision) }
        for _ in 0..<50 {
            guard !isLost else { throw leaseLostError() }
            let now = queue.clock.nowMs
            var transition = JobTransition(job, revision: revision, nowMs: now)
            if let blob { transition.batch.commitBlob(blob) }
            change(&transition.job, now)
            do {
                let queue = queue
                let change = transition
                let (newRevision, written) = try await storeCall { try await queue.commit(change, reason: reason, detail: detail) }
                state.withLock { state in
                    state.job = written
                    state.revision = newRevision
                    state.leaseWrittenAtMs = now
                }
                return written
            } catch let error as MLPersistenceError {
                guard case .conflict = error else { throw error }
            }
            // Someone else wrote the job: is it still ours?
            let reader = queue, jobID = id
            guard let (fresh, freshRevision) = try await storeCall({ try await reader.loadJob(jobID) }),
                fresh.status == .running,
                fresh.attempt == attempt, fresh.worker == worker
            else {
                state.withLock { $0.lost = true }
                keeperWake.signal()
                throw leaseLostError()
            }
            if fresh.cancelRequested { state.withLock { $0.cancelRequested = true } }
            job = fresh
            revision = freshRevision
        }
        throw MLJobError(code: .persistence, message: "job \(MLKey.job(id)) kept changing under its worker", jobID: id)
    }

    /// Runs a store call of this run in a task of its own. A stopped
    /// handler's task is cancelled, and some stores (PostgreSQL) cancel a
    /// cancelled task's queries, but the job's own writes must land regardless:
    /// unless the workers give up on them (``abandonStoreCalls()``), which
    /// makes this throw at once, whatever the task is waiting for.
    private func storeCall<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        // A store that answers at once cannot hold a shutdown: its call is made here.
        if queue.immediate {
            guard !storeCallsAbandoned else { throw givenUpError() }
            return try await operation()
        }
        let call = AbandonableCall<T>(propagatesCancellation: false)
        let registered = state.withLock { state -> Int? in
            guard !state.storeCallsAbandoned else { return nil }
            state.nextStoreCall += 1
            state.storeCalls[state.nextStoreCall] = { call.abandon(with: self.givenUpError()) }
            return state.nextStoreCall
        }
        guard let registered else { throw givenUpError() }
        defer { state.withLock { _ = $0.storeCalls.removeValue(forKey: registered) } }
        return try await call.run(operation)
    }

    /// What a store call given up (``abandonStoreCalls()``) throws; made only then, not for every call.
    private func givenUpError() -> MLJobError {
        MLJobError(code: .persistence,
                   message: "job \(MLKey.job(id)): the workers gave up writing to a store they could not reach at shutdown",
                   jobID: id)
    }

    /// Gives up this run's store calls, once its handler has returned: those
    /// waiting fail at once and their tasks are cancelled (a store that cannot
    /// be reached would hold them, and the shutdown, for ever), later ones
    /// fail at once, and the keeper stops renewing. The job's lease then
    /// expires, and another worker runs it again without using up an attempt.
    func abandonStoreCalls() {
        let cancels = state.withLock { state -> [@Sendable () -> Void] in
            state.storeCallsAbandoned = true
            defer { state.storeCalls.removeAll() }
            return Array(state.storeCalls.values)
        }
        for cancel in cancels { cancel() }
        keeperWake.signal()
    }

    /// Renews the lease and writes the latest progress.
    func renew() async throws {
        let leaseMs = timing.leaseMs
        // Progress is read inside the change, so a retry after a conflict (a
        // checkpoint written meanwhile, say) writes the newest value, not an older one.
        let written = try await write(reason: nil) { job, now in
            job.progress = self.state.withLock { $0.progress }
            job.leaseExpiresAtMs = now + leaseMs
        }
        state.withLock { state in
            state.progressWritten = written.progress
            state.progressWrittenAtMs = queue.clock.nowMs
        }
    }

    /// Saves `checkpoint`, and the staged `bytes` in the same write (or none:
    /// a checkpoint replaces the last one whole, bytes included).
    func saveCheckpoint(_ checkpoint: MLJSONObject, bytes: MLStagedBlob? = nil, progress: Double?) async throws -> Bool {
        if let progress { setProgress(progress) }
        let leaseMs = timing.leaseMs
        let reference = bytes.map { CheckpointBlob.reference(to: $0) }
        let written: MLJob
        do {
            written = try await write(reason: nil, committing: bytes) { job, now in
                job.checkpoint = checkpoint
                job.checkpointBytes = reference
                job.progress = self.state.withLock { $0.progress }
                job.leaseExpiresAtMs = now + leaseMs
            }
        } catch {
            // Uncommitted, the staged bytes would wait for garbage collection.
            if let bytes { try? await queue.store.abortBlobUpload(bytes.upload) }
            throw error
        }
        return state.withLock { state in
            state.checkpoint = checkpoint
            state.checkpointBytes = reference
            state.progressWritten = written.progress
            state.progressWrittenAtMs = queue.clock.nowMs
            return state.cancelRequested
        }
    }

    /// Checks a checkpoint before anything is staged or written.
    func validate(_ checkpoint: MLJSONObject) throws {
        guard MLJSONValue.object(checkpoint).isFinite else {
            throw MLJobError.invalid("checkpoint of job \(MLKey.job(id)) holds NaN or infinity")
        }
    }

    // MARK: Watching (by the pool's LeaseKeeper)

    /// What the keeper should do for this run now.
    struct WatchStep {
        /// Stop the handler for this reason.
        var stop: StopReason?
        /// Renew the lease (and write the latest progress); the run counts as renewing from now.
        var renew = false
        /// When this run needs the keeper next, if at all.
        var nextMs: Int64?
    }

    /// Hands the lease to the keeper while the handler runs, which started at
    /// `startedAtMs`; returns when the run first needs the keeper: at once if a
    /// cancel or the loss of the lease came before (while its handler was starting).
    func startWatching(startedAtMs: Int64) -> Int64 {
        let timeoutMs = latest.timeoutMs
        return state.withLock { state in
            state.watched = true
            state.timeoutAtMs = timeoutMs.map {
                startedAtMs.addingReportingOverflow($0).overflow ? Int64.max : startedAtMs + $0
            }
            if state.cancelRequested || state.lost { return .min }
            return min(state.leaseWrittenAtMs + timing.heartbeatMs, state.timeoutAtMs ?? .max)
        }
    }

    /// Decides what is due at `now`: tells the handler to stop (once: on a
    /// cancel request, a timeout or the end of the grace period, or at once
    /// when the lease is lost), and renews
    /// the lease when it or the progress is due. After a stop the lease is
    /// still renewed: it must hold until the handler has actually stopped, or
    /// another worker could start the job meanwhile. Nothing more is due once
    /// the lease is lost or the store calls were given up.
    func watchStep(nowMs now: Int64, shutdownAtMs: Int64?) -> WatchStep {
        state.withLock { state in
            guard state.watched, !state.storeCallsAbandoned else { return WatchStep() }
            if state.lost {
                defer { state.lossSent = true }
                return WatchStep(stop: state.lossSent ? nil : .leaseLost)
            }
            var step = WatchStep()
            if !state.stopSent {
                step.stop =
                    if state.cancelRequested { .cancelRequested }
                    else if let timeoutAt = state.timeoutAtMs, now >= timeoutAt { .timedOut }
                    else if let shutdownAtMs, now >= shutdownAtMs { .interrupted }
                    else { nil }
                state.stopSent = step.stop != nil
            }
            if !state.stopSent {
                step.nextMs = min(state.timeoutAtMs ?? .max, shutdownAtMs ?? .max)
            }
            guard !state.renewing else { return step }  // its end wakes the keeper
            let renewAt = state.renewRetryAtMs ?? state.leaseWrittenAtMs + timing.heartbeatMs
            let flushAt = state.progress != state.progressWritten ? state.progressWrittenAtMs + timing.progressFlushMs : .max
            if now >= renewAt || now >= flushAt {
                state.renewing = true
                state.renewRetryAtMs = nil
                step.renew = true
            } else {
                step.nextMs = min(step.nextMs ?? .max, renewAt, flushAt)
            }
            return step
        }
    }

    /// Renews the lease for the keeper (``watchStep(nowMs:shutdownAtMs:)``
    /// said so); a failure other than a lost lease is logged and retried
    /// soon, but not in a busy loop.
    func keeperRenew() async {
        var retryAt: Int64?
        do {
            try await renew()
        } catch let error as MLJobError where error.code == .leaseLost {
            // `write` marked the lease lost: the keeper tells the handler at its next step.
        } catch {
            if !storeCallsAbandoned {  // given up at shutdown: nothing to report
                queue.logger.warning("lease renewal failed; retrying", metadata: ["job_id": "\(MLKey.job(id))", "error": "\(error)"])
                retryAt = queue.clock.nowMs + max(1, timing.heartbeatMs / 10)
            }
        }
        let waiter = state.withLock { state in
            state.renewing = false
            state.renewRetryAtMs = retryAt
            defer { state.renewalWaiter = nil }
            return state.renewalWaiter
        }
        waiter?.resume()
        keeperWake.signal()  // what is due next for this run changed
    }

    /// The handler returned: the keeper no longer renews this run's lease.
    func stopWatching() {
        state.withLock { $0.watched = false }
    }

    /// Returns once no renewal of this run is in flight, so that the outcome
    /// is written after it, not beside it. Not cut short by cancellation (the
    /// workers' task cancelled): the renewal ends by itself, and giving up its
    /// store calls at shutdown ends it too.
    func renewalSettled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let settled = state.withLock { state -> Bool in
                guard state.renewing else { return true }
                state.renewalWaiter = continuation
                return false
            }
            if settled { continuation.resume() }
        }
    }
}

/// Lease and flush timing for running jobs, in milliseconds.
struct JobTiming: Sendable {
    var heartbeatMs: Int64
    var leaseMs: Int64
    var progressFlushMs: Int64
}
