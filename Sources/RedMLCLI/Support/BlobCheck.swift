import RedML

/// Checks the blobs of a store that has no integrity check of its own (a
/// SQLite file's also checks its pages): every committed blob is read to its
/// end, which checks that all its chunks are there and that its bytes still
/// hash to its SHA-256.
enum BlobCheck {
    /// How many blobs one listing call returns.
    private static let pageSize = 500

    /// The blobs that fail (`blob_mismatch`: their bytes hash to something else;
    /// `blob_unreadable`: a chunk is missing or cannot be read), and how many
    /// blobs there are. Without `verify`, only counts them.
    static func problems(in store: any MLStore, verify: Bool) async throws -> (problems: [MLIntegrityReport.Problem], blobs: Int) {
        var problems: [MLIntegrityReport.Problem] = []
        var count = 0
        var after: String?
        while true {
            let page = try await store.blobs(after: after, limit: pageSize)
            count += page.count
            if verify {
                for blob in page {
                    do {
                        for try await _ in try await store.readBlob(sha256: blob.sha256) {}
                    } catch let error as MLPersistenceError {
                        switch error {
                        case .blobVerificationFailed:
                            problems.append(.init(code: "blob_mismatch", message: error.description))
                        case .blobNotFound, .corruption:
                            problems.append(.init(code: "blob_unreadable", message: "blob \(blob.sha256): \(error)"))
                        default:
                            throw error  // the store failed, which says nothing about the blob
                        }
                    }
                }
            }
            guard page.count == pageSize, let last = page.last else { return (problems, count) }
            after = last.sha256
        }
    }
}
