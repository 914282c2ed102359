import Foundation

/// Checks of caller input that every backend applies the same way.
///
/// SQLite and PostgreSQL cannot store U+0000 in text faithfully (it ends a C
/// string), so no backend accepts it in a namespace, key or value; JSON never
/// needs it, since JSON escapes it as `\u0000`.
package enum MLInput {
    /// Throws ``MLPersistenceError/invalidArgument(_:)`` if `text` holds U+0000.
    package static func check(_ text: String, _ what: StaticString) throws {
        let hasNUL = text.withUTF8Bytes { bytes in
            bytes.count > 0 && memchr(bytes.baseAddress!, 0, bytes.count) != nil
        }
        if hasNUL {
            throw MLPersistenceError.invalidArgument("\(what) must not contain U+0000 (NUL)")
        }
    }

    /// Throws ``MLPersistenceError/invalidArgument(_:)`` unless `sha256` is
    /// 64 lowercase hex digits, the form every backend stores blobs under.
    package static func checkSHA256(_ sha256: String) throws {
        guard isSHA256Hex(sha256) else {
            throw MLPersistenceError.invalidArgument("'\(sha256)' is not a lowercase hex SHA-256")
        }
    }

    /// Checks a namespace and a key.
    package static func check(namespace: String, key: String) throws {
        try check(namespace, "namespace")
        try check(key, "key")
    }

    /// Checks the arguments of ``MLIndexClaiming/claim(namespace:prefix:after:limit:recordNamespace:_:)``;
    /// returns the limit a claim honours, at most 10,000 entries.
    @discardableResult
    package static func checkClaim(namespace: String, recordNamespace: String, after: String? = nil, limit: Int) throws -> Int {
        try check(namespace, "namespace")
        try check(recordNamespace, "recordNamespace")
        if let after { try check(after, "claim cursor") }
        guard limit >= 1 else { throw MLPersistenceError.invalidArgument("claim limit must be at least 1, got \(limit)") }
        return min(limit, 10_000)
    }

    /// Checks every string an operation of `batch` would store or look up.
    package static func check(_ batch: MLBatch) throws {
        for operation in batch.operations {
            switch operation {
            case .put(let namespace, let key, let value, _):
                try check(namespace: namespace, key: key)
                try check(value, "value")
            case .delete(let namespace, let key, _), .require(let namespace, let key, _):
                try check(namespace: namespace, key: key)
            case .commitBlob, .deleteBlob:
                break
            }
        }
    }

    /// Checks the strings of a page request.
    package static func check(namespace: String, _ request: MLPageRequest) throws {
        try check(namespace, "namespace")
        if let after = request.after { try check(after, "page cursor") }
        if let prefix = request.prefix { try check(prefix, "page prefix") }
    }
}
