import Foundation
import RedMLCore

/// One entry of a model's append-only history, written in the same atomic
/// write as the change it records.
///
/// Stored in the `model_history` namespace under `<model>/<sequence>`, with
/// the sequence zero-padded to 20 digits so keys sort in event order.
public struct MLRegistryEvent: Hashable, Sendable {
    /// What happened.
    public struct Kind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        /// Creates a kind from its stored name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A version was registered (`version`).
        public static let registered = Kind(rawValue: "registered")
        /// The active pointer moved to `version` (from `previousVersion`).
        public static let activated = Kind(rawValue: "activated")
        /// The active pointer was cleared (it was `previousVersion`).
        public static let deactivated = Kind(rawValue: "deactivated")
        /// `alias` now points at `version` (it pointed at `previousVersion`).
        public static let aliasMoved = Kind(rawValue: "alias_moved")
        /// `alias` was removed (it pointed at `previousVersion`).
        public static let aliasRemoved = Kind(rawValue: "alias_removed")
        /// `version` was archived.
        public static let archived = Kind(rawValue: "archived")
        /// `version` was unarchived.
        public static let unarchived = Kind(rawValue: "unarchived")
        /// Retention deleted the weights of `version`; its record stays.
        public static let weightsDeleted = Kind(rawValue: "weights_deleted")
        /// The model's description or tags changed.
        public static let modelUpdated = Kind(rawValue: "model_updated")
        /// The description or tags of `version` changed.
        public static let versionUpdated = Kind(rawValue: "version_updated")
        /// Every kind the registry writes, in the order above.
        public static let all: [Kind] = [
            .registered, .activated, .deactivated, .aliasMoved, .aliasRemoved, .archived, .unarchived,
            .weightsDeleted, .modelUpdated, .versionUpdated,
        ]

        public var description: String { rawValue }
    }

    /// The model the event belongs to.
    public var model: String
    /// The event's position in the model's history, from 1.
    public var sequence: UInt64
    /// What happened.
    public var kind: Kind
    /// When it happened, in milliseconds since 1970.
    public var atMs: Int64
    /// Who did it, as the caller said.
    public var actor: String?
    /// The version it concerns, if any.
    public var version: UInt32?
    /// Where the pointer pointed before, for pointer moves.
    public var previousVersion: UInt32?
    /// The alias it concerns, for alias events.
    public var alias: String?

    /// When it happened.
    public var at: Date { Date(epochMilliseconds: atMs) }
}

extension MLRegistryEvent: Codable {
    enum CodingKeys: String, CodingKey {
        case model, sequence, kind, actor, version, alias
        case atMs = "at_ms"
        case previousVersion = "previous_version"
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
            json.field("actor", actor)
            json.field("alias", alias)
            json.field("at_ms", atMs)
            json.field("kind", kind.rawValue)
            json.field("model", model)
            json.field("previous_version", previousVersion)
            json.field("sequence", sequence)
            json.field("version", version)
        }
        return writer.takeText()
    }
}
