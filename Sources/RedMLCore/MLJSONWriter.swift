/// Writes compact JSON text directly into a string.
///
/// Records are written on every registry change and job transition, and
/// Foundation's `JSONEncoder` costs 4–17 µs per small record on Linux (more
/// than the rest of a write), so RedML's own records are written with this.
/// They are read back with `JSONDecoder` (job records first through
/// ``MLJSONReader``), and tests round-trip every record type through both.
package struct MLJSONWriter {
    /// The UTF-8 bytes written so far.
    private var bytes: [UInt8] = []
    private var needsComma = false

    /// An empty writer.
    package init() {
        bytes.reserveCapacity(512)
    }

    /// The text written so far.
    package var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The text written so far, leaving the writer empty with its buffer kept.
    package mutating func takeText() -> String {
        defer {
            bytes.removeAll(keepingCapacity: true)
            needsComma = false
        }
        return text
    }

    /// Writes `{`, then whatever `body` writes as fields, then `}`.
    package mutating func object(_ body: (inout MLJSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes `[`, `body`'s values, `]`.
    package mutating func array(_ body: (inout MLJSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes a field name; the next value written is its value.
    package mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a field name known at compile time, which needs no escaping:
    /// record writers name their fields with plain ASCII literals.
    package mutating func key(static name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a string value.
    package mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes an integer value.
    package mutating func int(_ value: Int64) {
        separate()
        appendDigits(value.magnitude, negative: value < 0)
        needsComma = true
    }

    /// Writes an unsigned integer value.
    package mutating func int(_ value: UInt64) {
        separate()
        appendDigits(value, negative: false)
        needsComma = true
    }

    /// Writes an integer value.
    package mutating func int(_ value: Int) { int(Int64(value)) }

    /// Writes an unsigned 32-bit integer value.
    package mutating func int(_ value: UInt32) { int(UInt64(value)) }

    /// Writes a boolean value.
    package mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    /// Writes `null`.
    package mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// Writes a finite number; JSON cannot hold NaN or infinity, so those become `null`.
    package mutating func double(_ value: Double) {
        guard value.isFinite else { return null() }
        separate()
        // Swift prints the shortest text that reads back as the same Double.
        if value == value.rounded(), abs(value) < 1e15 {
            appendDigits(Int64(value).magnitude, negative: value < 0)
            bytes.append(contentsOf: ".0".utf8)
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
        needsComma = true
    }

    /// Writes any JSON value; object keys come out sorted so equal values give equal text.
    package mutating func value(_ value: MLJSONValue) {
        switch value {
        case .null: null()
        case .bool(let bool): self.bool(bool)
        case .int(let int): self.int(int)
        case .double(let double): self.double(double)
        case .string(let string): self.string(string)
        case .array(let values):
            array { writer in
                for element in values { writer.value(element) }
            }
        case .object(let object):
            self.object(object)
        }
    }

    /// Writes a JSON object value.
    package mutating func object(_ object: MLJSONObject) {
        self.object { writer in
            for key in object.keys.sorted() {
                writer.key(key)
                writer.value(object[key]!)
            }
        }
    }

    // MARK: Optional fields

    /// Writes `"name":"value"`, or nothing if `value` is nil.
    package mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(static: name)
        string(value)
    }

    /// Writes `"name":value`, or nothing if `value` is nil.
    package mutating func field(_ name: StaticString, _ value: Int64?) {
        guard let value else { return }
        key(static: name)
        int(value)
    }

    /// Writes `"name":value`, or nothing if `value` is nil.
    package mutating func field(_ name: StaticString, _ value: UInt64?) {
        guard let value else { return }
        key(static: name)
        int(value)
    }

    /// Writes `"name":value`, or nothing if `value` is nil.
    package mutating func field(_ name: StaticString, _ value: Int?) { field(name, value.map(Int64.init)) }

    /// Writes `"name":value`, or nothing if `value` is nil.
    package mutating func field(_ name: StaticString, _ value: UInt32?) { field(name, value.map(UInt64.init)) }

    /// Writes `"name":true|false`.
    package mutating func field(_ name: StaticString, _ value: Bool) {
        key(static: name)
        bool(value)
    }

    /// Writes `"name":{…}`.
    package mutating func field(_ name: StaticString, _ value: MLJSONObject) {
        key(static: name)
        object(value)
    }

    /// Writes `"name":{"k":"v",…}` with sorted keys.
    package mutating func field(_ name: StaticString, _ value: [String: String]) {
        key(static: name)
        object { writer in
            for key in value.keys.sorted() {
                writer.key(key)
                writer.string(value[key]!)
            }
        }
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// Appends the decimal digits of a number without building a `String`.
    private mutating func appendDigits(_ magnitude: UInt64, negative: Bool) {
        if negative { bytes.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            // Filled from the end, so the digits come out in order with no reversal.
            var magnitude = magnitude
            var start = digits.count
            repeat {
                let (quotient, digit) = magnitude.quotientAndRemainder(dividingBy: 10)
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: digit)
                magnitude = quotient
            } while magnitude != 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    private mutating func appendQuoted(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            // Copy runs that need no escape in one go; UTF-8 passes through unchanged.
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: "u00".utf8)
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0xF)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
