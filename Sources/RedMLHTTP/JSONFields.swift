import Foundation
import RedMLCore
import RedMLQueue

/// A request's JSON object, read field by field with the field named in
/// every error; fields the route does not know are refused up front.
struct JSONFields {
    private let object: MLJSONObject
    /// What the object is, for messages: `request body` or `RedML-Registration header`.
    private let source: String

    /// Wraps `object`, refusing any key outside `allowed`.
    init(_ object: MLJSONObject, allowed: Set<String>, source: String = "request body") throws(MLHTTPError) {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw MLHTTPError(
                .badRequest, code: "unknown_field",
                message: "\(source): unknown field '\(Self.shown(unknown))'; "
                    + (allowed.isEmpty ? "this route takes no fields" : "allowed: \(allowed.sorted().joined(separator: ", "))"))
        }
        self.object = object
        self.source = source
    }

    /// Whether the field is present (even as `null`).
    func has(_ field: String) -> Bool { object[field] != nil }

    /// The raw value, `nil` when absent.
    subscript(_ field: String) -> MLJSONValue? { object[field] }

    func string(_ field: String) throws(MLHTTPError) -> String? {
        switch object[field] {
        case nil, .null: return nil
        case .string(let value): return value
        case let other?: throw wrongType(field, "a string", other)
        }
    }

    func requiredString(_ field: String) throws(MLHTTPError) -> String {
        guard let value = try string(field) else { throw missing(field, "a string") }
        return value
    }

    func bool(_ field: String) throws(MLHTTPError) -> Bool? {
        switch object[field] {
        case nil, .null: return nil
        case .bool(let value): return value
        case let other?: throw wrongType(field, "true or false", other)
        }
    }

    /// An integer within `range`; a fraction or a number outside it is refused.
    func int(_ field: String, in range: ClosedRange<Int64>) throws(MLHTTPError) -> Int64? {
        switch object[field] {
        case nil, .null: return nil
        case let value?:
            guard let int = value.intValue, value.doubleValue != nil else {
                throw wrongType(field, "an integer within \(range.lowerBound)…\(range.upperBound)", value)
            }
            guard range.contains(int) else {
                throw MLHTTPError.invalidField(
                    "\(source) field '\(field)'", "\(int) is outside \(range.lowerBound)…\(range.upperBound)")
            }
            return int
        }
    }

    /// A version number, 1…4294967295.
    func version(_ field: String) throws(MLHTTPError) -> UInt32? {
        try int(field, in: 1...Int64(UInt32.max)).map { UInt32($0) }
    }

    func requiredVersion(_ field: String) throws(MLHTTPError) -> UInt32 {
        guard let value = try version(field) else { throw missing(field, "a version number") }
        return value
    }

    /// A finite number.
    func number(_ field: String) throws(MLHTTPError) -> Double? {
        switch object[field] {
        case nil, .null: return nil
        case let value?:
            guard let double = value.doubleValue, double.isFinite else { throw wrongType(field, "a number", value) }
            return double
        }
    }

    func object(_ field: String) throws(MLHTTPError) -> MLJSONObject? {
        switch object[field] {
        case nil, .null: return nil
        case .object(let value): return value
        case let other?: throw wrongType(field, "a JSON object", other)
        }
    }

    /// An object of string values, such as `tags`.
    func stringMap(_ field: String) throws(MLHTTPError) -> [String: String]? {
        guard let map = try object(field) else { return nil }
        var result: [String: String] = [:]
        for (key, value) in map {
            guard case .string(let string) = value else {
                throw wrongType("\(field).\(key)", "a string", value)
            }
            result[key] = string
        }
        return result
    }

    /// A job id: 32 hex digits.
    func jobID(_ field: String) throws(MLHTTPError) -> UInt128? {
        guard let text = try string(field) else { return nil }
        guard let id = MLKey.parseJob(text) else {
            throw MLHTTPError.invalidField("\(source) field '\(field)'", "expected 32 hex digits, got '\(Self.shown(text))'")
        }
        return id
    }

    /// A time: epoch milliseconds or an ISO-8601 string.
    func time(_ field: String) throws(MLHTTPError) -> Date? {
        let name = "\(source) field '\(field)'"
        switch object[field] {
        case nil, .null: return nil
        case .string(let text):
            guard let date = ISO8601.parse(text) else {
                let reason = ISO8601.parse(text + "Z") != nil
                    ? "'\(Self.shown(text))' has no time zone; add Z for UTC or an offset such as +02:00"
                    : "'\(Self.shown(text))' is not an ISO-8601 time such as 2030-01-02T03:04:05Z"
                throw MLHTTPError.invalidField(name, reason)
            }
            guard (0...MLJobQueue.latestRunAtSeconds).contains(date.timeIntervalSince1970) else {
                throw MLHTTPError.invalidField(name, "'\(Self.shown(text))' is outside the years 1970…9999")
            }
            return date
        case let value?:
            guard let ms = value.intValue, value.doubleValue != nil else {
                throw wrongType(field, "epoch milliseconds or an ISO-8601 string", value)
            }
            guard (0...MLJobQueue.latestRunAtMs).contains(ms) else {
                throw MLHTTPError.invalidField(name, "\(ms) ms is outside the years 1970…9999")
            }
            return Date(timeIntervalSince1970: Double(ms) / 1000)
        }
    }

    private func missing(_ field: String, _ expected: String) -> MLHTTPError {
        MLHTTPError(.badRequest, code: "missing_field", message: "\(source): field '\(field)' is required (\(expected))")
    }

    private func wrongType(_ field: String, _ expected: String, _ value: MLJSONValue) -> MLHTTPError {
        MLHTTPError(.badRequest, code: "invalid_field",
                    message: "\(source) field '\(field)' must be \(expected), got \(Self.kind(of: value))")
    }

    static func kind(of value: MLJSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int(let int): "the number \(int)"
        case .double(let double): "the number \(double)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Caller-supplied text cut short with control characters escaped, for messages.
    static func shown(_ text: String) -> String {
        String(text.unicodeScalars.prefix(80).map { scalar -> String in
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                ? "\\u{" + String(scalar.value, radix: 16) + "}" : String(scalar)
        }.joined())
    }
}

/// ISO-8601 times, with or without fractional seconds.
enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }
}
