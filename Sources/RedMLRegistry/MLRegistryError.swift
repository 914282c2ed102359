import RedMLCore
import RedMLPersistence

/// What went wrong in a registry call, with a stable ``code``, a message that
/// names the model, version, alias or field, and the underlying error if any.
public struct MLRegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A stable, machine-readable identifier of the kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// Creates a code.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No model has this name.
        public static let unknownModel = Code(rawValue: "unknown_model")
        /// The model has no version with this number.
        public static let unknownVersion = Code(rawValue: "unknown_version")
        /// The model has no alias with this name.
        public static let unknownAlias = Code(rawValue: "unknown_alias")
        /// The version is archived, so it cannot be activated or aliased.
        public static let versionArchived = Code(rawValue: "version_archived")
        /// The version is active or aliased, so archiving it needs `force`.
        public static let versionInUse = Code(rawValue: "version_in_use")
        /// The operation needs an archived version.
        public static let versionNotArchived = Code(rawValue: "version_not_archived")
        /// Retention deleted the version's weights.
        public static let weightsDeleted = Code(rawValue: "weights_deleted")
        /// The stored weights no longer match their SHA-256.
        public static let weightsCorrupt = Code(rawValue: "weights_corrupt")
        /// A conditional alias move found the alias elsewhere.
        public static let aliasConflict = Code(rawValue: "alias_conflict")
        /// The registration expected another version number than the next one.
        public static let versionConflict = Code(rawValue: "version_conflict")
        /// An argument was refused; nothing was changed.
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// Other writers kept changing the model; the change was not made.
        public static let contention = Code(rawValue: "contention")
        /// The persistence layer failed; see ``underlying``.
        public static let persistence = Code(rawValue: "persistence")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable message naming what is wrong.
    public var message: String
    /// The model concerned, if any.
    public var model: String?
    /// The version concerned, if any.
    public var version: UInt32?
    /// The persistence error behind this one, if any.
    public var underlying: MLPersistenceError?

    /// Creates an error.
    public init(
        code: Code, message: String, model: String? = nil, version: UInt32? = nil,
        underlying: MLPersistenceError? = nil
    ) {
        self.code = code
        self.message = message
        self.model = model
        self.version = version
        self.underlying = underlying
    }

    public var description: String {
        underlying.map { "\(message) (\($0))" } ?? message
    }
}

extension MLRegistryError {
    static func unknownModel(_ model: String) -> Self {
        // Two spellings of one name look alike when printed; say which one was asked for.
        let composed = model.precomposedStringWithCanonicalMapping
        let hint = model.unicodeScalars.elementsEqual(composed.unicodeScalars)
            ? "" : " (this spelling is not in NFC, and names are created in NFC: ask for it composed)"
        return Self(code: .unknownModel, message: "unknown model '\(model)'\(hint)", model: model)
    }

    static func unknownVersion(_ model: String, _ version: UInt32) -> Self {
        Self(code: .unknownVersion, message: "unknown version \(version) for model '\(model)'",
             model: model, version: version)
    }

    static func unknownAlias(_ model: String, _ alias: String) -> Self {
        Self(code: .unknownAlias, message: "model '\(model)' has no alias '\(alias)'", model: model)
    }

    static func archived(_ model: String, _ version: UInt32, action: String) -> Self {
        Self(code: .versionArchived,
             message: "version \(version) of model '\(model)' is archived, so it cannot be \(action); unarchive it first",
             model: model, version: version)
    }

    static func invalid(_ message: String, model: String? = nil, version: UInt32? = nil) -> Self {
        Self(code: .invalidArgument, message: message, model: model, version: version)
    }

    static func persistence(_ error: MLPersistenceError, model: String?, version: UInt32? = nil) -> Self {
        Self(code: .persistence, message: "the store failed" + (model.map { " for model '\($0)'" } ?? ""),
             model: model, version: version, underlying: error)
    }

    static func json(_ error: MLJSONError, model: String) -> Self {
        Self(code: .invalidArgument, message: "model '\(model)': \(error)", model: model)
    }
}
