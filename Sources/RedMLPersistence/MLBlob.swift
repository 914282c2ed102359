import Foundation

/// Identifies an upload in progress: chunks written, not yet readable.
public struct MLBlobUploadID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The backend's id for the upload.
    public let rawValue: Int64

    /// Wraps a backend id.
    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    public var description: String { "upload \(rawValue)" }
}

/// A blob whose bytes are stored but not yet committed.
///
/// Add it to an ``MLBatch`` with ``MLBatch/commitBlob(_:)`` so that the blob
/// becomes readable in the same atomic write as the record that references it.
/// An upload that is never committed is removed by
/// ``MLStore/removeAbandonedBlobUploads(startedBefore:)``.
public struct MLStagedBlob: Hashable, Sendable {
    /// The upload that holds the bytes.
    public var upload: MLBlobUploadID
    /// Lowercase hex SHA-256 of the bytes.
    public var sha256: String
    /// Size in bytes.
    public var size: Int64
    /// Number of chunks the bytes were stored in.
    public var chunkCount: Int

    /// Creates a staged-blob description; backends return these from ``MLStore/finishBlobUpload(_:sha256:size:chunkCount:)``.
    public init(upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int) {
        self.upload = upload
        self.sha256 = sha256
        self.size = size
        self.chunkCount = chunkCount
    }
}

/// What a store knows about a committed blob, without its bytes.
public struct MLBlobInfo: Hashable, Sendable {
    /// Lowercase hex SHA-256 of the bytes; the blob's address.
    public var sha256: String
    /// Size in bytes.
    public var size: Int64
    /// Number of chunks; read them with ``MLStore/readBlobChunk(sha256:index:)``.
    public var chunkCount: Int

    /// Creates a description.
    public init(sha256: String, size: Int64, chunkCount: Int) {
        self.sha256 = sha256
        self.size = size
        self.chunkCount = chunkCount
    }
}

/// Whether `text` is a SHA-256 in the form RedML stores: 64 lowercase hex digits.
package func isSHA256Hex(_ text: String) -> Bool {
    text.utf8.count == 64
        && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
}
