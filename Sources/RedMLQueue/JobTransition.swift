import RedMLCore
import RedMLPersistence

/// One change of a job in the making: the record after the change, and the
/// batch that carries it with its index moves and its history event.
struct JobTransition {
    let before: MLJob
    var job: MLJob
    let revision: MLRevision
    let nowMs: Int64
    var batch = MLBatch()
    /// The revision of the ready entry a claim found the job through: its
    /// removal is then conditional on it, which also checks that no other
    /// claimer moved the job on.
    var readyEntryRevision: MLRevision?

    init(_ job: MLJob, revision: MLRevision, nowMs: Int64) {
        self.before = job
        self.job = job
        self.revision = revision
        self.nowMs = nowMs
    }

    /// Builds the batch: the record (conditional on the revision it was read
    /// at), the index entries that move with the status, and the event.
    ///
    /// - Parameter reason: the history event's reason; `nil` writes no event
    ///   (lease renewals and progress).
    func finished(reason: String?, detail: String? = nil) -> (MLBatch, MLJob) {
        var (job, event, batch) = outcome(reason: reason, detail: detail)
        JobIndexes.remove(before, from: &batch, readyEntryRevision: readyEntryRevision)
        JobIndexes.add(job, to: &batch, nowMs: nowMs)
        if let event {
            batch.put(namespace: MLNamespace.jobHistory, key: QueueKeys.event(job, event.sequence),
                      value: event.storedJSON, if: .absent)
        }
        batch.put(namespace: MLNamespace.jobs, key: job.key, value: job.storedJSON, if: .revision(revision))
        return (batch, job)
    }

    /// The same change as ``finished(reason:detail:)``, as a write to a job
    /// table (``MLJobTableStore``): one row and its event, with the batch's
    /// blob operations.
    func tableWrite(reason: String?, detail: String? = nil) -> (MLJobWrite, MLJob) {
        let (job, event, batch) = outcome(reason: reason, detail: detail)
        let write = MLJobWrite(
            row: job.tableRow(nowMs: nowMs), expected: revision,
            event: event.map { MLJobEventRow(key: job.key, sequence: $0.sequence, record: $0.storedJSON) },
            blobs: batch)
        return (write, job)
    }

    /// The record after the change, its event (when `reason` is given) and
    /// the batch of extra operations, with the blob the change frees.
    private func outcome(reason: String?, detail: String?) -> (MLJob, MLJobEvent?, MLBatch) {
        var job = self.job
        var batch = self.batch
        job.updatedAtMs = nowMs
        // Checkpoint bytes serve only a resume, which a terminal job never has. A job's blob
        // is its own (see CheckpointBlob), so the one it replaces or drops can go.
        if job.status.isTerminal { job.checkpointBytes = nil }
        if let old = before.checkpointBytes, old.sha256 != job.checkpointBytes?.sha256 {
            batch.deleteBlob(sha256: old.sha256)
        }
        guard let reason else { return (job, nil, batch) }
        job.eventCount += 1
        let event = MLJobEvent(
            sequence: job.eventCount, atMs: nowMs, from: before.status, to: job.status, attempt: job.attempt,
            worker: job.worker ?? before.worker, reason: reason, detail: detail)
        return (job, event, batch)
    }
}

extension MLJob {
    /// The job as a job table keeps it, written at `nowMs`: a queued job is
    /// ready when its run-at time has come, as ``JobIndexes/add(_:to:nowMs:)``
    /// indexes it.
    func tableRow(nowMs: Int64) -> MLJobRow {
        MLJobRow(
            key: key, queue: queue, kind: kind.rawValue, status: status.rawValue, priority: priority, runAtMs: runAtMs,
            ready: status == .queued && runAtMs <= nowMs,
            leaseExpiresAtMs: status == .running ? leaseExpiresAtMs : nil,
            finishedAtMs: status.isTerminal ? finishedAtMs : nil, uniqueKey: uniqueKey, record: storedJSON)
    }
}

/// Which index entries a job has in each state.
enum JobIndexes {
    /// Removes the entries `job` had (a missing entry is not an error), the
    /// ready entry only if it is still at `readyEntryRevision` when one is given.
    static func remove(_ job: MLJob, from batch: inout MLBatch, readyEntryRevision: MLRevision? = nil) {
        switch job.status {
        case .queued:
            batch.delete(namespace: MLNamespace.jobReady, key: QueueKeys.ready(job),
                         if: readyEntryRevision.map { .revision($0) } ?? .always)
            // `add` indexed the job as ready when its run time had come by its last write, and
            // only a write moves it back to scheduled; a later run time may have been promoted
            // to ready since, so then both go. (One operation fewer in the common claim.)
            if job.runAtMs > job.updatedAtMs {
                batch.delete(namespace: MLNamespace.jobScheduled, key: QueueKeys.scheduled(job))
            }
        case .running:
            if let expiry = job.leaseExpiresAtMs {
                batch.delete(namespace: MLNamespace.jobLeases, key: QueueKeys.lease(expiry, job))
            }
        default:
            break
        }
    }

    /// Adds the entries `job` needs in its state.
    static func add(_ job: MLJob, to batch: inout MLBatch, nowMs: Int64) {
        switch job.status {
        case .queued:
            if job.runAtMs <= nowMs {
                batch.put(namespace: MLNamespace.jobReady, key: QueueKeys.ready(job), value: job.key)
            } else {
                batch.put(namespace: MLNamespace.jobScheduled, key: QueueKeys.scheduled(job), value: job.queue)
            }
        case .running:
            if let expiry = job.leaseExpiresAtMs {
                batch.put(namespace: MLNamespace.jobLeases, key: QueueKeys.lease(expiry, job), value: job.worker ?? "")
            }
        default:
            batch.put(namespace: MLNamespace.jobFinished, key: QueueKeys.finished(job), value: job.status.rawValue)
            if let unique = job.uniqueKey {
                batch.delete(namespace: MLNamespace.jobUnique, key: unique)
            }
        }
    }
}

extension MLJob {
    /// Starts a new attempt of a claimed job for `worker`, leased until
    /// `leaseExpiresAtMs` (the attempt number is its fencing number).
    mutating func startAttempt(worker: String, leaseExpiresAtMs: Int64, at nowMs: Int64) {
        status = .running
        attempt += 1
        self.worker = worker
        self.leaseExpiresAtMs = leaseExpiresAtMs
        startedAtMs = startedAtMs ?? nowMs
    }

    /// Moves a running job to `status`, giving up its lease: a terminal
    /// status records the finish time, `queued` makes it runnable from `nowMs`.
    mutating func release(to status: Status, at nowMs: Int64) {
        self.status = status
        worker = nil
        leaseExpiresAtMs = nil
        if status.isTerminal {
            finishedAtMs = nowMs
        } else {
            runAtMs = nowMs
        }
    }
}
