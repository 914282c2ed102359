import Foundation
import RedMLCore
import RedMLPersistence

/// A version's weights, chunk by chunk, verified against their SHA-256 at the end.
///
/// If the stored bytes were altered, the sequence throws an ``MLRegistryError``
/// with code `weights_corrupt` naming the model and version after the last
/// chunk, so a consumer must not trust what it received until the sequence
/// ends without error.
public struct MLWeightsStream: AsyncSequence, Sendable {
    public typealias Element = Data
    /// The version the weights belong to.
    public let version: MLModelVersion
    let blob: MLBlobStream

    public func makeAsyncIterator() -> Iterator {
        Iterator(version: version, blob: blob.makeAsyncIterator())
    }

    /// Reads one chunk per call.
    public struct Iterator: AsyncIteratorProtocol {
        let version: MLModelVersion
        var blob: MLBlobStream.Iterator

        public mutating func next() async throws -> Data? {
            do {
                return try await blob.next()
            } catch let error as MLPersistenceError {
                throw MLModelRegistry.weightsError(error, version)
            }
        }
    }
}

extension MLModelRegistry {
    /// Streams the weights of `version` of `model`, verified on the way.
    ///
    /// - Throws: `weights_deleted` if retention deleted them; `weights_corrupt`
    ///   if they, or some of their chunks, are missing from the blob store, or
    ///   they fail verification.
    public func weights(of model: String, version: UInt32) async throws -> MLWeightsStream {
        let found = try await self.version(model, version)
        guard !found.weights.deleted else {
            throw MLRegistryError(
                code: .weightsDeleted,
                message: "the weights of version \(version) of model '\(model)' were deleted by retention",
                model: model, version: version)
        }
        do {
            return MLWeightsStream(version: found, blob: try await store.readBlob(sha256: found.weights.sha256))
        } catch let error as MLPersistenceError {
            throw Self.weightsError(error, found)
        }
    }

    /// Reads the weights of `version` of `model` into memory, verified (for small models).
    public func weightsData(of model: String, version: UInt32) async throws -> Data {
        var data = Data()
        for try await chunk in try await weights(of: model, version: version) {
            data.append(chunk)
        }
        return data
    }

    /// Writes the weights of `version` of `model` to `file`, verified; a
    /// partial file is removed if verification fails.
    public func downloadWeights(of model: String, version: UInt32, to file: URL) async throws {
        let stream = try await weights(of: model, version: version)
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw MLRegistryError.invalid(
                "cannot create \(file.path) for the weights of model '\(model)': \(reason)", model: model)
        }
        do {
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            defer { try? handle.close() }
            for try await chunk in stream {
                try handle.write(contentsOf: chunk)
            }
        } catch {
            try? FileManager.default.removeItem(at: file)
            throw error
        }
    }

    static func weightsError(_ error: MLPersistenceError, _ version: MLModelVersion) -> MLRegistryError {
        let name = "the weights of version \(version.version) of model '\(version.model)'"
        switch error {
        case .blobVerificationFailed(let sha256, let actual, _):
            return MLRegistryError(
                code: .weightsCorrupt,
                message: "\(name) failed verification: stored bytes hash to \(actual), expected \(sha256)",
                model: version.model, version: version.version, underlying: error)
        case .blobNotFound(let sha256):
            return MLRegistryError(
                code: .weightsCorrupt, message: "\(name) (blob \(sha256)) are missing from the blob store",
                model: version.model, version: version.version, underlying: error)
        case .corruption(let reason):
            // Raised while reading a blob, so it is about its bytes (a chunk lost or damaged behind the store's back).
            return MLRegistryError(
                code: .weightsCorrupt, message: "\(name) are damaged in the blob store: \(reason)",
                model: version.model, version: version.version, underlying: error)
        default:
            return MLRegistryError.persistence(error, model: version.model, version: version.version)
        }
    }
}
