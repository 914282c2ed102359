import Foundation
import RedMLCore

/// A named model: its pointers (the active version and aliases), counters and metadata.
///
/// One record per model, stored under ``MLKey/model(_:)`` in ``MLNamespace/models``.
/// Every registry change to a model rewrites this record in the same atomic
/// write as the change, conditional on the revision it was read at, so two
/// writers can never both succeed from the same state.
public struct MLModel: Hashable, Sendable {
    /// The model's name (1–255 Unicode scalars in NFC, no control characters, no `/`, not `.` or `..`).
    public var name: String
    /// Free text about the model.
    public var description: String?
    /// Key–value tags, as in MLflow.
    public var tags: [String: String]
    /// When the first version was registered, in milliseconds since 1970.
    public var createdAtMs: Int64
    /// When the model last changed, in milliseconds since 1970.
    public var updatedAtMs: Int64
    /// The highest version number ever allocated; versions `1...latestVersion` all exist.
    public var latestVersion: UInt32
    /// The version serving traffic, if any.
    public var activeVersion: UInt32?
    /// How many versions are archived.
    public var archivedCount: Int
    /// Named pointers such as `champion` and `staging`.
    public var aliases: [String: UInt32]
    /// How many history events the model has; the next event gets this number plus one.
    public var eventCount: UInt64

    /// How many versions the model has (archived ones included).
    public var versionCount: Int { Int(latestVersion) }
    /// When the first version was registered.
    public var createdAt: Date { Date(epochMilliseconds: createdAtMs) }
}

extension MLModel: Codable {
    enum CodingKeys: String, CodingKey {
        case name, description, tags, aliases
        case createdAtMs = "created_at_ms"
        case updatedAtMs = "updated_at_ms"
        case latestVersion = "latest_version"
        case activeVersion = "active_version"
        case archivedCount = "archived_count"
        case eventCount = "event_count"
    }

    /// Decodes the stored form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        tags = try container.decodeIfPresent([String: String].self, forKey: .tags) ?? [:]
        createdAtMs = try container.decode(Int64.self, forKey: .createdAtMs)
        updatedAtMs = try container.decodeIfPresent(Int64.self, forKey: .updatedAtMs) ?? createdAtMs
        latestVersion = try container.decode(UInt32.self, forKey: .latestVersion)
        activeVersion = try container.decodeIfPresent(UInt32.self, forKey: .activeVersion)
        archivedCount = try container.decodeIfPresent(Int.self, forKey: .archivedCount) ?? 0
        aliases = try container.decodeIfPresent([String: UInt32].self, forKey: .aliases) ?? [:]
        eventCount = try container.decodeIfPresent(UInt64.self, forKey: .eventCount) ?? 0
    }

    /// Encodes the stored form: the same JSON the registry writes.
    public func encode(to encoder: any Encoder) throws {
        try MLJSONValue.encodeStored(storedJSON, of: Self.self, to: encoder)
    }

    /// The stored JSON, written without `JSONEncoder` (see `MLJSONWriter`).
    var storedJSON: String {
        var writer = MLJSONWriter()
        return storedJSON(using: &writer)
    }

    /// The stored JSON, written in `writer`'s buffer, which is left empty for the next record:
    /// a change writes several records, and reusing one buffer saves an allocation for each.
    func storedJSON(using writer: inout MLJSONWriter) -> String {
        writer.object { json in
            json.field("active_version", activeVersion)
            json.key("aliases")
            json.object { object in
                for alias in aliases.keys.sorted() {
                    object.key(alias)
                    object.int(aliases[alias]!)
                }
            }
            json.field("archived_count", archivedCount)
            json.field("created_at_ms", createdAtMs)
            json.field("description", description)
            json.field("event_count", eventCount)
            json.field("latest_version", latestVersion)
            json.field("name", name)
            json.field("tags", tags)
            json.field("updated_at_ms", updatedAtMs)
        }
        return writer.takeText()
    }
}

extension Date {
    /// The date `milliseconds` after 1970-01-01 UTC.
    init(epochMilliseconds milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// Milliseconds since 1970-01-01 UTC, rounded down.
    var epochMilliseconds: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded(.down))
    }
}
