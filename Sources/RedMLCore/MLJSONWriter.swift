/// Writes compact JSON text directly into a string.
///
/// Records are written on every registry change and job transition, and
/// Foundation's `JSONEncoder` costs 4–17 µs per small record on Linux (more
/// than the rest of a write), so RedML's own records are written with this.
/// They are read back with `JSONDecoder`, and tests round-trip every record
/// type through both.
package struct MLJSONWriter {
    /// The text written so far.
    package private(set) var text = ""
    private var needsComma = false

    /// An empty writer.
    package init() {
        text.reserveCapacity(256)
    }

    /// Writes `{`, then whatever `body` writes as fields, then `}`.
    package mutating func object(_ body: (inout MLJSONWriter) -> Void) {
        separate()
        text.append("{")
        needsComma = false
        body(&self)
        text.append("}")
        needsComma = true
    }

    /// Writes `[`, `body`'s values, `]`.
    package mutating func array(_ body: (inout MLJSONWriter) -> Void) {
        separate()
        text.append("[")
        needsComma = false
        body(&self)
        text.append("]")
        needsComma = true
    }

    /// Writes a field name; the next value written is its value.
    package mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        text.append(":")
        needsComma = false
    }

    /// Writes a string value.
    package mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes an integer value.
    package mutating func int<T: BinaryInteger>(_ value: T) {
        separate()
        text.append(String(value))
        needsComma = true
    }

    /// Writes a boolean value.
    package mutating func bool(_ value: Bool) {
        separate()
        text.append(value ? "true" : "false")
        needsComma = true
    }

    /// Writes `null`.
    package mutating func null() {
        separate()
        text.append("null")
        needsComma = true
    }

    /// Writes a finite number; JSON cannot hold NaN or infinity, so those become `null`.
    package mutating func double(_ value: Double) {
        guard value.isFinite else { return null() }
        separate()
        // Swift prints the shortest text that reads back as the same Double.
        if value == value.rounded(), abs(value) < 1e15 {
            text.append(String(Int64(value)))
            text.append(".0")
        } else {
            text.append(value.description)
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
    package mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    /// Writes `"name":value`, or nothing if `value` is nil.
    package mutating func field<T: BinaryInteger>(_ name: String, _ value: T?) {
        guard let value else { return }
        key(name)
        int(value)
    }

    /// Writes `"name":true|false`.
    package mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// Writes `"name":{…}`.
    package mutating func field(_ name: String, _ value: MLJSONObject) {
        key(name)
        object(value)
    }

    /// Writes `"name":{"k":"v",…}` with sorted keys.
    package mutating func field(_ name: String, _ value: [String: String]) {
        key(name)
        object { writer in
            for key in value.keys.sorted() {
                writer.key(key)
                writer.string(value[key]!)
            }
        }
    }

    private mutating func separate() {
        if needsComma { text.append(",") }
    }

    private mutating func appendQuoted(_ string: String) {
        text.append("\"")
        // Fast path: nothing to escape, append the whole string at once.
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            text.append(string)
        } else {
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": text.append("\\\"")
                case "\\": text.append("\\\\")
                case "\n": text.append("\\n")
                case "\r": text.append("\\r")
                case "\t": text.append("\\t")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    text.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: text.unicodeScalars.append(scalar)
                }
            }
        }
        text.append("\"")
    }
}
