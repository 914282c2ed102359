import Foundation
import RedMLCore
import RedMLPersistence

/// The rules for names and other input, checked before anything is written.
enum RegistryValidation {
    /// Names the active and latest versions answer to; they cannot be set as aliases.
    static let builtInAliases: Set<String> = ["active", "latest"]

    /// The rules every name a caller gives must meet, for lookups as for
    /// changes: 1–255 characters, no `/`, no control characters. Names made
    /// before the stricter rules of ``newModel(_:)`` stay reachable under these.
    static func model(_ name: String) throws(MLRegistryError) {
        let length = name.count
        guard (1...255).contains(length) else {
            throw .invalid("model name must be 1–255 characters, got \(length)"
                + (length == 0 ? "" : ": '\(printable(String(name.unicodeScalars.prefix(40))))…'"))
        }
        if let bad = name.unicodeScalars.first(where: { isControl($0) || $0 == "/" }) {
            let shown = bad == "/" ? "'/'" : "control character U+" + hex(bad.value)
            throw .invalid("model name '\(printable(name))' contains \(shown); "
                + "names may not contain '/' or control characters")
        }
    }

    /// The rules a model's name must meet when the model is created: those of
    /// ``model(_:)``, 255 Unicode scalars at most, not `.` or `..`, and NFC.
    static func newModel(_ name: String) throws(MLRegistryError) {
        try model(name)
        // Counted in Unicode scalars too: one grapheme cluster can hold any number of
        // combining marks, and a name's size in bytes must stay bounded.
        let scalars = name.unicodeScalars.count
        guard scalars <= 255 else {
            throw .invalid("model name must be 1–255 characters (Unicode scalars), got \(scalars): "
                + "'\(printable(String(name.unicodeScalars.prefix(40))))…'")
        }
        guard name != "." && name != ".." else {
            // URL clients (browsers, curl) remove these path segments, so such a model could not be reached.
            throw .invalid("model name '\(name)' is a path segment that URLs remove; choose another name")
        }
        // Two spellings of one name (é as one scalar, or e and a combining accent) must not be two models.
        let composed = name.precomposedStringWithCanonicalMapping
        guard name.unicodeScalars.elementsEqual(composed.unicodeScalars) else {
            throw .invalid("model name '\(printable(name))' is not in Unicode normalization form C (NFC); "
                + "write it composed, as '\(printable(composed))'")
        }
    }

    static func version(_ version: UInt32, model: String) throws(MLRegistryError) {
        guard version >= 1 else {
            throw .invalid("version numbers start at 1; got 0 for model '\(model)'", model: model)
        }
    }

    /// The rules an alias must meet to be named at all (looked up, moved or
    /// removed): 1–64 letters, digits, `_`, `-` and `.`, and not a built-in alias.
    static func alias(_ alias: String, model: String) throws(MLRegistryError) {
        guard (1...64).contains(alias.utf8.count),
            alias.utf8.allSatisfy(MLTextRules.isNameByte)
        else {
            throw .invalid("alias '\(printable(alias))' of model '\(model)' must be 1–64 characters "
                + "of letters, digits, '_', '-' and '.'", model: model)
        }
        guard !builtInAliases.contains(alias) else {
            throw .invalid("'\(alias)' is a built-in alias of model '\(model)' and cannot be set directly; "
                + (alias == "active" ? "use activate" : "it always names the newest version"), model: model)
        }
    }

    /// The rules an alias must meet to be set: those of ``alias(_:model:)``, not
    /// a built-in alias in another case (`Latest`, `ACTIVE`), which would read
    /// as the built-in one though names are otherwise case-sensitive, and not
    /// `.` or `..`, which URLs remove. Aliases set before these rules stay
    /// readable and removable, as they meet ``alias(_:model:)``.
    static func newAlias(_ alias: String, model: String) throws(MLRegistryError) {
        try self.alias(alias, model: model)
        // ASCII only (the name rules above), so lowercasing cannot change the length or meaning.
        let lowered = alias.lowercased()
        guard !builtInAliases.contains(lowered) else {
            throw .invalid("alias '\(alias)' of model '\(model)' differs from the built-in alias '\(lowered)' "
                + "only in case and would be mistaken for it; choose another name", model: model)
        }
        guard alias != "." && alias != ".." else {
            // URL clients remove these path segments, so the alias could not be read or removed over HTTP.
            throw .invalid("alias '\(alias)' of model '\(model)' is a path segment that URLs remove; "
                + "choose another name", model: model)
        }
    }

    static func tags(_ tags: [String: String], model: String, field: String) throws(MLRegistryError) {
        for (key, value) in tags {
            guard (1...255).contains(key.count), !key.unicodeScalars.contains(where: isControl) else {
                throw .invalid("model '\(model)': \(field) key '\(printable(key))' must be 1–255 characters "
                    + "without control characters", model: model)
            }
            guard value.utf8.count <= 5_000 else {
                throw .invalid("model '\(model)': \(field) '\(key)' is \(value.utf8.count) bytes; "
                    + "at most 5000 are allowed", model: model)
            }
            guard !value.unicodeScalars.contains("\u{0}") else {
                throw .invalid("model '\(model)': \(field) '\(key)' \(nulRefusal)", model: model)
            }
        }
    }

    /// Why text with U+0000 is refused, for every field that refuses it.
    static let nulRefusal = "contains U+0000 (NUL), which registry text may not hold (SQL text cannot)"

    static func text(_ value: String?, _ field: String, model: String, limit: Int) throws(MLRegistryError) {
        guard let value else { return }
        guard value.utf8.count <= limit else {
            throw .invalid("model '\(model)': \(field) is \(value.utf8.count) bytes; at most \(limit) are allowed",
                           model: model)
        }
        guard !value.unicodeScalars.contains("\u{0}") else {
            throw .invalid("model '\(model)': \(field) \(nulRefusal)", model: model)
        }
    }

    static func sha256(_ value: String?, _ field: String, model: String) throws(MLRegistryError) {
        guard let value else { return }
        guard isSHA256Hex(value) else {
            throw .invalid("model '\(model)': \(field) must be 64 lowercase hex digits, got '\(printable(value))'",
                           model: model)
        }
    }

    static func json(_ object: MLJSONObject, _ field: String, model: String) throws(MLRegistryError) {
        guard MLJSONValue.object(object).isFinite else {
            throw .invalid("model '\(model)': \(field) holds NaN or infinity, which JSON cannot represent",
                           model: model)
        }
        guard !MLJSONValue.object(object).containsNUL else {
            throw .invalid("model '\(model)': \(field) \(nulRefusal)", model: model)
        }
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool { MLTextRules.isControl(scalar) }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The name with control characters shown as escapes, so an error message stays on one line.
    static func printable(_ name: String) -> String {
        String(name.unicodeScalars.flatMap { isControl($0) ? Array("\\u{\(hex($0.value))}".unicodeScalars) : [$0] }
            .map(Character.init).prefix(80))
    }
}

extension MLJSONValue {
    /// Whether any string in the value, or any object key, holds U+0000.
    var containsNUL: Bool {
        switch self {
        case .string(let string): string.utf8.contains(0)
        case .array(let values): values.contains(where: \.containsNUL)
        case .object(let object): object.contains { $0.key.utf8.contains(0) || $0.value.containsNUL }
        default: false
        }
    }
}

extension MLModelRegistry {
    /// Checks a model name as registration does when it creates the model
    /// (1–255 Unicode scalars in NFC, no `/` or control characters, not `.` or
    /// `..`), so a tool can refuse a bad name before it starts work that would
    /// register under it.
    public static func validateModelName(_ name: String) throws(MLRegistryError) {
        try RegistryValidation.newModel(name)
    }
}
