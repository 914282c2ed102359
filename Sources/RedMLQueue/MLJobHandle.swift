import RedMLCore
import Synchronization

/// What a handler gets: the job, its last checkpoint, and the calls to report
/// progress, save checkpoints and notice cancellation.
///
/// ```swift
/// workers.register(.train) { job in
///     var epoch = job.checkpoint?["epoch"]?.intValue ?? 0       // resume where the last attempt stopped
///     while epoch < 10 {
///         try await trainOneEpoch()
///         epoch += 1
///         if try await job.checkpoint(["epoch": .int(epoch)], progress: Double(epoch) * 10) { break }
///     }
///     return ["accuracy": 0.97]
/// }
/// ```
public final class MLJobHandle: Sendable {
    /// The job as it was claimed.
    public let job: MLJob
    let run: JobRun

    init(job: MLJob, run: JobRun) {
        self.job = job
        self.run = run
    }

    /// The job's id.
    public var id: UInt128 { job.id }
    /// Its spec.
    public var spec: MLJSONObject { job.spec }
    /// This attempt's number (the claim's fencing number).
    public var attempt: Int { job.attempt }
    /// The last checkpoint saved by any attempt, to resume from.
    public var checkpoint: MLJSONObject? { run.lastCheckpoint }

    /// Whether someone asked the job to stop (also visible as Swift task cancellation).
    public var isCancelled: Bool { run.cancelRequested }

    /// Reports progress, clamped to 0–100 (it may move backwards). Cheap:
    /// writes are coalesced and reach the store at most every flush interval.
    public func setProgress(_ progress: Double) {
        run.setProgress(progress)
    }

    /// Saves a checkpoint (and progress, if given), renews the lease, and
    /// returns whether the job was asked to stop, in one write.
    ///
    /// - Throws: ``MLJobError`` with code `lease_lost` if this worker no
    ///   longer holds the job; stop working on it then.
    @discardableResult
    public func checkpoint(_ state: MLJSONObject, progress: Double? = nil) async throws -> Bool {
        try await run.saveCheckpoint(state, progress: progress)
    }
}
