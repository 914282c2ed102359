import Foundation

/// Which way a page walks the keys.
public struct MLSortOrder: Hashable, Sendable {
    /// Whether keys come largest first.
    public let isDescending: Bool

    /// Smallest key first (byte order of the UTF-8 keys).
    public static let ascending = MLSortOrder(isDescending: false)
    /// Largest key first.
    public static let descending = MLSortOrder(isDescending: true)
}

/// Which slice of a namespace to read.
public struct MLPageRequest: Hashable, Sendable {
    /// Start strictly after this key, in the page's order; `nil` starts at the first key.
    public var after: String?
    /// Only keys that begin with this prefix; `nil` means every key.
    public var prefix: String?
    /// At most this many entries. Must be at least 1.
    public var limit: Int
    /// The order of the keys. Defaults to ``MLSortOrder/ascending``.
    public var order: MLSortOrder

    /// Creates a request. `limit` defaults to 100.
    public init(after: String? = nil, prefix: String? = nil, limit: Int = 100, order: MLSortOrder = .ascending) {
        self.after = after
        self.prefix = prefix
        self.limit = limit
        self.order = order
    }
}

/// One page of entries, in key order.
public struct MLPage: Hashable, Sendable {
    /// The entries of this page.
    public var entries: [MLEntry]
    /// The cursor for the next page (pass it as ``MLPageRequest/after``), or `nil` at the end.
    public var nextCursor: String?

    /// Creates a page.
    public init(entries: [MLEntry], nextCursor: String?) {
        self.entries = entries
        self.nextCursor = nextCursor
    }
}

extension MLPageRequest {
    /// Validates the request, so every backend refuses bad input the same way.
    package func validate() throws {
        guard limit >= 1 else {
            throw MLPersistenceError.invalidArgument("page limit must be at least 1, got \(limit)")
        }
    }

    /// Whether `key` belongs on this page (prefix and cursor), ignoring the limit.
    package func admits(_ key: String) -> Bool {
        if let prefix, !key.utf8.starts(with: prefix.utf8) { return false }
        if let after {
            return order.isDescending ? MLKeyOrder.less(key, after) : MLKeyOrder.less(after, key)
        }
        return true
    }
}

/// The one key order every backend uses: bytewise over UTF-8, as SQLite's
/// BINARY collation and PostgreSQL's `COLLATE "C"` compare.
package enum MLKeyOrder {
    /// Whether `lhs` sorts before `rhs`.
    ///
    /// One `memcmp` over the shared length: the in-memory store's index
    /// compares keys a dozen times per lookup, and the generic comparison of
    /// two `UTF8View`s went byte by byte.
    package static func less(_ lhs: String, _ rhs: String) -> Bool {
        lhs.withUTF8Bytes { left in
            rhs.withUTF8Bytes { right in
                let shared = min(left.count, right.count)
                if shared > 0 {
                    let order = memcmp(left.baseAddress!, right.baseAddress!, shared)
                    if order != 0 { return order < 0 }
                }
                return left.count < right.count
            }
        }
    }

    /// The smallest string greater than every string that starts with `prefix`,
    /// in UTF-8 byte order (which is Unicode scalar order), or `nil` if none exists.
    package static func successor(ofPrefix prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // skip the surrogate range
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                var text = ""
                text.unicodeScalars.append(contentsOf: scalars)
                return text
            }
        }
        return nil
    }

}
