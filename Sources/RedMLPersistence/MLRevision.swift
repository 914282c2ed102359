/// The revision of a stored entry.
///
/// Revisions come from one counter per store, so a revision is never reused,
/// not even after the entry is deleted and written again: compare-and-swap on
/// it is free of the ABA problem. Within one process each commit gets a higher
/// revision than the last; a backend shared by several processes may hand each
/// process its own range of the counter, so across processes revisions are
/// unique but not ordered by time.
public struct MLRevision: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The counter value.
    public let rawValue: Int64

    /// Wraps a counter value.
    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "r\(rawValue)" }
}

/// One stored entry: its key, its value and the revision that last wrote it.
public struct MLEntry: Hashable, Sendable {
    /// The entry's key within its namespace.
    public var key: String
    /// The stored value (JSON by convention).
    public var value: String
    /// The revision of the commit that last wrote this entry.
    public var revision: MLRevision

    /// Creates an entry.
    public init(key: String, value: String, revision: MLRevision) {
        self.key = key
        self.value = value
        self.revision = revision
    }
}
