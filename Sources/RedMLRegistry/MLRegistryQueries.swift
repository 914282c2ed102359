import RedMLCore
import RedMLPersistence

/// Which versions of a model to list, and in which order.
public struct MLVersionQuery: Hashable, Sendable {
    /// Start after this version number, in the query's order (the previous page's ``MLVersionPage/nextCursor``).
    public var after: UInt32?
    /// At most this many versions (1...1000). Defaults to 100.
    public var limit: Int
    /// Oldest first (the default) or newest first.
    public var newestFirst: Bool
    /// Only archived (`true`) or only live (`false`) versions; `nil` for both.
    public var archived: Bool?
    /// Only versions with this tag key (and, if given, this value).
    public var tag: MLTagFilter?

    /// Creates a query.
    public init(
        after: UInt32? = nil, limit: Int = 100, newestFirst: Bool = false, archived: Bool? = nil,
        tag: MLTagFilter? = nil
    ) {
        self.after = after
        self.limit = limit
        self.newestFirst = newestFirst
        self.archived = archived
        self.tag = tag
    }
}

/// A tag that listed items must carry.
public struct MLTagFilter: Hashable, Sendable {
    /// The tag key.
    public var key: String
    /// The value it must have; `nil` accepts any value.
    public var value: String?

    /// Creates a filter.
    public init(key: String, value: String? = nil) {
        self.key = key
        self.value = value
    }

    func admits(_ tags: [String: String]) -> Bool {
        guard let found = tags[key] else { return false }
        return value.map { $0 == found } ?? true
    }
}

/// One page of versions.
public struct MLVersionPage: Equatable, Sendable {
    /// The versions, in the query's order.
    public var versions: [MLModelVersion]
    /// Pass as ``MLVersionQuery/after`` for the next page; `nil` at the end.
    public var nextCursor: UInt32?
    /// Records found corrupt on this page and skipped.
    public var skipped: [MLPersistenceError]
}

/// Which models to list.
public struct MLModelQuery: Hashable, Sendable {
    /// Start after this model name, in the query's order.
    public var after: String?
    /// At most this many models (1...1000). Defaults to 100.
    public var limit: Int
    /// Names in descending byte order instead of ascending.
    public var descending: Bool
    /// Only models with this tag.
    public var tag: MLTagFilter?

    /// Creates a query.
    public init(after: String? = nil, limit: Int = 100, descending: Bool = false, tag: MLTagFilter? = nil) {
        self.after = after
        self.limit = limit
        self.descending = descending
        self.tag = tag
    }
}

/// One page of models.
public struct MLModelPage: Equatable, Sendable {
    /// The models, in name order.
    public var models: [MLModel]
    /// Pass as ``MLModelQuery/after`` for the next page; `nil` at the end.
    public var nextCursor: String?
    /// Records found corrupt on this page and skipped.
    public var skipped: [MLPersistenceError]
}

/// A model with its active version, as `redml models show` and `GET /v1/models/{name}` show it.
public struct MLModelDetails: Equatable, Sendable {
    /// The model.
    public var model: MLModel
    /// The active version; `nil` when none is active, or when its record is corrupt (then named in ``skipped``).
    public var active: MLModelVersion?
    /// The active version's record when it is corrupt, reported rather than thrown so the model still shows.
    public var skipped: [MLPersistenceError]
}

/// The seed system's model summary.
public struct MLModelSummary: Hashable, Sendable, Codable {
    /// The model's name.
    public var name: String
    /// The active version, if any.
    public var activeVersion: UInt32?
    /// All versions, archived ones included.
    public var totalVersions: Int
    /// Archived versions.
    public var archivedVersions: Int

    enum CodingKeys: String, CodingKey {
        case name
        case activeVersion = "active_version"
        case totalVersions = "total_versions"
        case archivedVersions = "archived_versions"
    }
}

/// Which history events to list.
public struct MLHistoryQuery: Hashable, Sendable {
    /// Start after this event sequence number, in the query's order.
    public var after: UInt64?
    /// At most this many events (1...1000). Defaults to 100.
    public var limit: Int
    /// Newest first instead of oldest first.
    public var newestFirst: Bool
    /// Only events about this alias.
    public var alias: String?
    /// Only events of these kinds; empty for every kind.
    public var kinds: Set<MLRegistryEvent.Kind>

    /// Creates a query.
    public init(
        after: UInt64? = nil, limit: Int = 100, newestFirst: Bool = false, alias: String? = nil,
        kinds: Set<MLRegistryEvent.Kind> = []
    ) {
        self.after = after
        self.limit = limit
        self.newestFirst = newestFirst
        self.alias = alias
        self.kinds = kinds
    }

    func admits(_ event: MLRegistryEvent) -> Bool {
        if let alias, event.alias != alias { return false }
        return kinds.isEmpty || kinds.contains(event.kind)
    }
}

/// One page of history.
public struct MLHistoryPage: Equatable, Sendable {
    /// The events, in the query's order.
    public var events: [MLRegistryEvent]
    /// Pass as ``MLHistoryQuery/after`` for the next page; `nil` at the end.
    public var nextCursor: UInt64?
    /// Records found corrupt on this page and skipped.
    public var skipped: [MLPersistenceError]
}

func validateLimit(_ limit: Int, model: String?) throws(MLRegistryError) {
    guard (1...1000).contains(limit) else {
        throw .invalid("page limit must be 1…1000, got \(limit)", model: model)
    }
}

/// A model-name cursor holds nothing a name cannot (no store can look up U+0000).
func validateModelCursor(_ cursor: String?) throws(MLRegistryError) {
    guard let cursor, cursor.unicodeScalars.contains("\u{0}") else { return }
    throw .invalid("page cursor '\(RegistryValidation.printable(cursor))' is not a model name this list returned: it contains U+0000")
}
