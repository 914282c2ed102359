/// The errors a persistence backend reports.
///
/// The first two cases are the seed's; the others are what conditional writes,
/// blobs and versioned schemas add. Every case has a stable ``code`` and a
/// description that names the thing that went wrong.
public enum MLPersistenceError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The underlying store failed. The message is backend-specific.
    case backend(String)
    /// A stored value was not what its reader expected (for example, not JSON).
    case corruption(String)
    /// A conditional write found the entry in another state than it required.
    case conflict(namespace: String, key: String, expected: MLCondition, found: MLRevision?)
    /// No committed blob has this SHA-256.
    case blobNotFound(sha256: String)
    /// A blob's stored bytes no longer hash to the SHA-256 they were stored under.
    case blobVerificationFailed(sha256: String, actual: String, size: Int64)
    /// The store was written by a newer RedML whose schema this build does not know.
    case schemaTooNew(store: String, found: Int, supported: Int)
    /// The caller passed an argument the backend cannot accept.
    case invalidArgument(String)

    /// A stable, machine-readable code for the case.
    public var code: String {
        switch self {
        case .backend: "backend"
        case .corruption: "corruption"
        case .conflict: "conflict"
        case .blobNotFound: "blob_not_found"
        case .blobVerificationFailed: "blob_verification_failed"
        case .schemaTooNew: "schema_too_new"
        case .invalidArgument: "invalid_argument"
        }
    }

    public var description: String {
        switch self {
        case .backend(let message):
            "ml persistence backend error: \(message)"
        case .corruption(let message):
            "ml persistence value corrupted: \(message)"
        case .conflict(let namespace, let key, let expected, let found):
            "ml persistence conflict: \(namespace)/\(key) was expected to be \(expected) but "
                + (found.map { "is at revision \($0.rawValue)" } ?? "is absent")
        case .blobNotFound(let sha256):
            "ml persistence blob not found: no committed blob has sha256 \(sha256)"
        case .blobVerificationFailed(let sha256, let actual, let size):
            "ml persistence blob verification failed: blob \(sha256) now hashes to \(actual) "
                + "over \(size) bytes; its stored bytes were altered"
        case .schemaTooNew(let store, let found, let supported):
            "store \(store) was written by a newer RedML (schema \(found), this build knows "
                + "\(supported)); upgrade RedML to open it"
        case .invalidArgument(let message):
            "ml persistence invalid argument: \(message)"
        }
    }

    /// A corruption error that names the record it was found in.
    public static func corruptValue(namespace: String, key: String, reason: String) -> Self {
        .corruption("\(namespace)/\(key): \(reason)")
    }
}
