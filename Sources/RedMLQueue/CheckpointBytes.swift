import Foundation
import RedMLCore
import RedMLPersistence

/// The bytes of a job's last checkpoint, chunk by chunk, verified against
/// their SHA-256 at the end.
///
/// If the stored bytes were altered or are missing, the sequence throws an
/// ``MLJobError`` with code `checkpoint_corrupt` naming the job, so a consumer
/// must not trust what it received until the sequence ends without error.
public struct MLCheckpointBytesStream: AsyncSequence, Sendable {
    public typealias Element = Data
    /// The job the bytes belong to.
    public let jobID: UInt128
    /// Their size, as saved.
    public let size: Int64
    let blob: MLBlobStream

    public func makeAsyncIterator() -> Iterator {
        Iterator(jobID: jobID, blob: blob.makeAsyncIterator(), header: CheckpointBlob.header(of: jobID))
    }

    /// Reads one chunk per call.
    public struct Iterator: AsyncIteratorProtocol {
        let jobID: UInt128
        var blob: MLBlobStream.Iterator
        /// What is left of the header to check and drop.
        var header: Data

        public mutating func next() async throws -> Data? {
            while true {
                let chunk: Data?
                do {
                    chunk = try await blob.next()
                } catch let error as MLPersistenceError {
                    throw CheckpointBlob.error(error, jobID: jobID)
                }
                guard var chunk else {
                    guard header.isEmpty else { throw CheckpointBlob.badHeader(jobID) }
                    return nil
                }
                if !header.isEmpty {
                    let count = Swift.min(header.count, chunk.count)
                    guard chunk.prefix(count) == header.prefix(count) else {
                        // Altered bytes are reported as such: read on, so the SHA-256 check speaks first.
                        try await drain()
                        throw CheckpointBlob.badHeader(jobID)
                    }
                    header.removeFirst(count)
                    chunk.removeFirst(count)
                }
                if !chunk.isEmpty { return chunk }
            }
        }

        private mutating func drain() async throws {
            do {
                while try await blob.next() != nil {}
            } catch let error as MLPersistenceError {
                throw CheckpointBlob.error(error, jobID: jobID)
            }
        }
    }
}

/// How checkpoint bytes are stored: one blob per job and content, whose
/// first bytes name the job. Two jobs saving the same bytes, or a job saving
/// its final weights that a model version also holds, therefore never share
/// a blob, and deleting a job's blob cannot take anyone else's bytes.
enum CheckpointBlob {
    static func header(of id: UInt128) -> Data {
        Data("redml checkpoint \(MLKey.job(id))\n".utf8)
    }

    /// Every header has this length: job keys are 32 hex digits.
    static let headerLength = header(of: 0).count

    /// Stages `bytes` behind the job's header; the blob is readable once a
    /// batch commits it.
    static func stage(_ bytes: Data, of id: UInt128, in store: any MLStore) async throws -> MLStagedBlob {
        var stored = header(of: id)
        stored.append(bytes)
        return try await store.writeBlob(stored)
    }

    /// Stages a stream of buffers behind the job's header, one chunk in memory at a time.
    static func stage<Bytes: AsyncSequence>(streaming bytes: Bytes, of id: UInt128, in store: any MLStore) async throws
        -> MLStagedBlob where Bytes.Element == Data
    {
        try await store.writeBlob(HeaderThenBytes(header: header(of: id), bytes: bytes))
    }

    /// The reference a job records for a staged blob.
    static func reference(to staged: MLStagedBlob) -> MLJob.CheckpointBytes {
        MLJob.CheckpointBytes(sha256: staged.sha256, size: staged.size - Int64(headerLength))
    }

    static func error(_ error: MLPersistenceError, jobID: UInt128) -> MLJobError {
        let name = "the checkpoint bytes of job \(MLKey.job(jobID))"
        switch error {
        case .blobVerificationFailed(let sha256, let actual, _):
            return MLJobError(
                code: .checkpointCorrupt,
                message: "\(name) failed verification: stored bytes hash to \(actual), expected \(sha256)",
                jobID: jobID, underlying: error)
        case .blobNotFound(let sha256):
            return MLJobError(
                code: .checkpointCorrupt, message: "\(name) (blob \(sha256)) are missing from the blob store",
                jobID: jobID, underlying: error)
        case .corruption(let reason):
            // Raised while reading a blob, so it is about its bytes (a chunk lost or damaged behind the store's back).
            return MLJobError(
                code: .checkpointCorrupt, message: "\(name) are damaged in the blob store: \(reason)",
                jobID: jobID, underlying: error)
        default:
            return MLJobError(code: .persistence, message: "reading \(name) failed", jobID: jobID, underlying: error)
        }
    }

    static func badHeader(_ id: UInt128) -> MLJobError {
        MLJobError(
            code: .checkpointCorrupt,
            message: "the checkpoint blob of job \(MLKey.job(id)) does not start with its header; it belongs to something else",
            jobID: id)
    }
}

/// A header, then the buffers of another sequence.
private struct HeaderThenBytes<Bytes: AsyncSequence>: AsyncSequence where Bytes.Element == Data {
    typealias Element = Data
    let header: Data
    let bytes: Bytes

    func makeAsyncIterator() -> Iterator { Iterator(header: header, bytes: bytes.makeAsyncIterator()) }

    struct Iterator: AsyncIteratorProtocol {
        var header: Data?
        var bytes: Bytes.AsyncIterator

        mutating func next() async throws -> Data? {
            if let first = header {
                header = nil
                return first
            }
            return try await bytes.next()
        }
    }
}

extension MLJobQueue {
    /// Streams the bytes of job `id`'s last checkpoint, verified on the way;
    /// `nil` if its last checkpoint saved none (or the job is terminal, which
    /// drops them).
    ///
    /// - Throws: `unknown_job`; `checkpoint_corrupt` if the bytes are missing
    ///   or fail verification.
    public func checkpointBytes(of id: UInt128) async throws -> MLCheckpointBytesStream? {
        guard let job = try await job(id) else { throw MLJobError.unknownJob(id) }
        guard let reference = job.checkpointBytes else { return nil }
        return try await checkpointBytes(reference, of: id)
    }

    /// Streams the checkpoint bytes `reference` names, which job `id` saved.
    func checkpointBytes(_ reference: MLJob.CheckpointBytes, of id: UInt128) async throws -> MLCheckpointBytesStream {
        do {
            return MLCheckpointBytesStream(
                jobID: id, size: reference.size, blob: try await store.readBlob(sha256: reference.sha256))
        } catch let error as MLPersistenceError {
            throw CheckpointBlob.error(error, jobID: id)
        }
    }
}

extension MLCheckpointBytesStream {
    /// Reads all the bytes into memory, verified (for small checkpoints).
    public func data() async throws -> Data {
        var data = Data()
        for try await chunk in self { data.append(chunk) }
        return data
    }
}
