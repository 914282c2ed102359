import Foundation
import RedMLCore
import RedMLPersistence
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
    /// A checkpoint replaces the last one whole: bytes the last one saved are
    /// dropped.
    ///
    /// - Throws: ``MLJobError`` with code `lease_lost` if this worker no
    ///   longer holds the job; stop working on it then.
    @discardableResult
    public func checkpoint(_ state: MLJSONObject, progress: Double? = nil) async throws -> Bool {
        try run.validate(state)
        return try await run.saveCheckpoint(state, progress: progress)
    }

    // MARK: Checkpoints with bytes

    /// The size of the bytes the last checkpoint saved, or `nil` if it saved none.
    public var checkpointBytesSize: Int64? { run.lastCheckpointBytes?.size }

    /// Streams the bytes the last checkpoint saved, verified on the way; `nil`
    /// if it saved none.
    ///
    /// - Throws: ``MLJobError`` with code `checkpoint_corrupt` if they are
    ///   missing or fail verification (the stream throws it after the last chunk).
    public func checkpointBytes() async throws -> MLCheckpointBytesStream? {
        guard let reference = run.lastCheckpointBytes else { return nil }
        return try await run.queue.checkpointBytes(reference, of: id)
    }

    /// Reads the bytes the last checkpoint saved into memory, verified; `nil`
    /// if it saved none.
    public func checkpointData() async throws -> Data? {
        try await checkpointBytes()?.data()
    }

    /// Saves a checkpoint with bytes (model weights, optimizer state) beside
    /// its JSON, renews the lease and returns whether the job was asked to
    /// stop. The bytes go to the blob store, and the job record names them by
    /// SHA-256, in the same write as the JSON and progress; the bytes of the
    /// checkpoint they replace are deleted in that write too.
    ///
    /// - Throws: ``MLJobError`` with code `lease_lost` if this worker no
    ///   longer holds the job (nothing is saved).
    @discardableResult
    public func checkpoint(_ state: MLJSONObject = [:], bytes: Data, progress: Double? = nil) async throws -> Bool {
        try run.validate(state)
        let staged = try await stagingErrors { try await CheckpointBlob.stage(bytes, of: id, in: run.queue.store) }
        return try await run.saveCheckpoint(state, bytes: staged, progress: progress)
    }

    /// Saves a checkpoint whose bytes come as a stream of buffers; at most a
    /// chunk or two is held in memory, whatever the total size.
    @discardableResult
    public func checkpoint<Bytes: AsyncSequence>(
        _ state: MLJSONObject = [:], streaming bytes: Bytes, progress: Double? = nil
    ) async throws -> Bool where Bytes.Element == Data {
        try run.validate(state)
        let staged = try await stagingErrors {
            try await CheckpointBlob.stage(streaming: bytes, of: id, in: run.queue.store)
        }
        return try await run.saveCheckpoint(state, bytes: staged, progress: progress)
    }

    /// Saves a checkpoint whose bytes are the contents of `file`, read one chunk at a time.
    @discardableResult
    public func checkpoint(_ state: MLJSONObject = [:], contentsOf file: URL, progress: Double? = nil) async throws
        -> Bool
    {
        try run.validate(state)
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: file)
        } catch {
            throw MLJobError.invalid("cannot read checkpoint file \(file.path) of job \(MLKey.job(id)): \(error)")
        }
        defer { try? handle.close() }
        let store = run.queue.store
        let staged = try await stagingErrors {
            try await CheckpointBlob.stage(
                streaming: FileChunks(handle: handle, chunkSize: store.blobChunkSize), of: id, in: store)
        }
        return try await run.saveCheckpoint(state, bytes: staged, progress: progress)
    }

    private func stagingErrors(_ body: () async throws -> MLStagedBlob) async throws -> MLStagedBlob {
        do {
            return try await body()
        } catch let error as MLPersistenceError {
            throw MLJobError(
                code: .persistence, message: "storing the checkpoint bytes of job \(MLKey.job(id)) failed", jobID: id,
                underlying: error)
        }
    }
}
