import Foundation

/// A JSON value: what hyperparameters, metrics, job specs and job results hold.
///
/// Building one in Swift cannot produce invalid JSON, and decoding one from
/// text (``MLJSONValue/parse(_:field:)``) reports exactly what is wrong.
/// Integers and floating-point numbers are kept apart so a 64-bit integer
/// round-trips exactly. JSON itself has one number type, so a whole number
/// stored as a double (`3.0`) may read back as `.int(3)`: numbers compare and
/// hash by value, so `.double(3.0) == .int(3)`, and ``doubleValue`` reads either.
/// Decoding refuses a whole number past the 64-bit range that a Double would
/// round (`123456789012345678901234567890`), rather than store another number.
public enum MLJSONValue: Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number without a fraction or exponent that fits in 64 bits.
    case int(Int64)
    /// Any other number. Must be finite.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([MLJSONValue])
    /// An object.
    case object(MLJSONObject)
}

extension MLJSONValue: Hashable {
    /// Equal when of the same kind and value; numbers compare by value, whatever their case.
    public static func == (lhs: MLJSONValue, rhs: MLJSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): Int64(exactly: b) == a
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// Hashes numbers by value, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(value)
        case .int(let value): hasher.combine(value)
        case .double(let value):
            if let whole = Int64(exactly: value) { hasher.combine(whole) } else { hasher.combine(value) }
        case .string(let value): hasher.combine(value)
        case .array(let value): hasher.combine(value)
        case .object(let value): hasher.combine(value)
        }
    }

    /// The number as a `Double`, for either number case; `nil` for anything else.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The number as an `Int64` if it is a whole number that fits; `nil` otherwise.
    public var intValue: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }
}

/// A JSON object: string keys to JSON values.
public typealias MLJSONObject = [String: MLJSONValue]

extension MLJSONValue: Codable {
    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            self = .int(int)
        } else if let double = try? container.decode(Double.self) {
            if double.rounded() == double, abs(double) >= 0x1p63, abs(double) < 1e38,
                let exact = try? container.decode(Decimal.self), Self.significantDigits(of: exact) > 17,
                !Self.holdsExactly(double, exact)
            {
                // A whole number past Int64 that a Double would round: refused, not changed.
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "the integer \(exact) is outside the 64-bit range, and as a 64-bit float it would "
                        + "become \(double); send it as a float if it may be rounded, or, in free-form JSON such as metrics "
                        + "or a spec, as a string")
            }
            self = .double(double)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([MLJSONValue].self) {
            self = .array(array)
        } else {
            do {
                self = .object(try container.decode(MLJSONObject.self))
            } catch DecodingError.typeMismatch(_, let context) where context.debugDescription.contains("number") {
                // A number that is neither an Int64 nor a finite Double (1e999): say so, not "expected an object".
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "a number beyond the range of a 64-bit float (±1.8e308)")
            }
        }
    }

    /// The number of significant decimal digits of `value`: 17 or fewer for
    /// every number a Double's shortest form writes.
    private static func significantDigits(of value: Decimal) -> Int {
        let digits = value.description.utf8.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard let first = digits.firstIndex(where: { $0 != UInt8(ascii: "0") }),
            let last = digits.lastIndex(where: { $0 != UInt8(ascii: "0") })
        else { return 0 }
        return last - first + 1
    }

    /// Whether `double`, a whole number below 1e38 (where `Decimal` is exact), is `exact`.
    private static func holdsExactly(_ double: Double, _ exact: Decimal) -> Bool {
        let magnitude = double.magnitude
        var value = Decimal(magnitude.significandBitPattern | 1 << 52) * pow(Decimal(2), Int(magnitude.exponent) - 52)
        if double < 0 { value.negate() }
        return value == exact
    }

    /// Encodes the value as the JSON it stands for.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension MLJSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    /// `null`.
    public init(nilLiteral: ()) { self = .null }
    /// A boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A floating-point number.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array.
    public init(arrayLiteral elements: MLJSONValue...) { self = .array(elements) }
    /// An object; a repeated key keeps its last value.
    public init(dictionaryLiteral elements: (String, MLJSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension MLJSONValue {
    /// The compact JSON text of this value, with object keys sorted.
    public var jsonText: String {
        var writer = MLJSONWriter()
        writer.value(self)
        return writer.text
    }

    /// Whether the value is or holds an object (only objects can repeat a key).
    var hasObject: Bool {
        switch self {
        case .object: true
        case .array(let values): values.contains(where: \.hasObject)
        default: false
        }
    }

    /// Whether every number in the value is finite (JSON has no NaN or infinity).
    public var isFinite: Bool {
        switch self {
        case .double(let value): value.isFinite
        case .array(let values): values.allSatisfy(\.isFinite)
        case .object(let object): object.values.allSatisfy(\.isFinite)
        default: true
        }
    }

    /// Parses JSON text, naming `field` in the error if it is not valid JSON.
    ///
    /// An object with the same key twice is refused: a parser keeps one of
    /// the values and drops the other without a word, so the caller's input
    /// would not be what was stored.
    public static func parse(_ text: String, field: String) throws(MLJSONError) -> MLJSONValue {
        do {
            let value = try JSONDecoder().decode(MLJSONValue.self, from: Data(text.utf8))
            if value.hasObject, let problem = MLJSONSyntaxCheck.firstProblem(in: text) {
                throw MLJSONError(field: field, reason: "not valid JSON: \(problem)")
            }
            return value
        } catch let error as MLJSONError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            // Foundation says only that the data is not right: find what and where.
            if let problem = MLJSONSyntaxCheck.firstProblem(in: text) {
                throw MLJSONError(field: field, reason: "not valid JSON: \(problem)")
            }
            // Well-formed, but a value this type cannot hold (a number out of range).
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw MLJSONError(field: field, reason: context.debugDescription + (path.isEmpty ? "" : " (at \(path))"))
        } catch {
            if let problem = MLJSONSyntaxCheck.firstProblem(in: text) {
                throw MLJSONError(field: field, reason: "not valid JSON: \(problem)")
            }
            throw MLJSONError(field: field, reason: "not valid JSON: \(error)")
        }
    }

    /// Encodes a record's stored JSON through `encoder`, so that a type written
    /// with `MLJSONWriter` has one format, not a second hand-kept `Encodable` one.
    package static func encodeStored(_ json: String, of type: Any.Type, to encoder: any Encoder) throws {
        try parse(json, field: "\(type)").encode(to: encoder)
    }

    /// Parses JSON text that must hold an object, naming `field` in the error.
    public static func parseObject(_ text: String, field: String) throws(MLJSONError) -> MLJSONObject {
        guard case .object(let object) = try parse(text, field: field) else {
            throw MLJSONError(field: field, reason: "expected a JSON object ({...})")
        }
        return object
    }
}

/// JSON text that could not be used, and the field it was given for.
public struct MLJSONError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field or argument the text was given for, such as `hyperparameters`.
    public var field: String
    /// What is wrong with it.
    public var reason: String

    /// Creates an error for `field`.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}
