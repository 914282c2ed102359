/// Reads JSON, such as ``MLJSONWriter`` writes, without Foundation's
/// `JSONDecoder`, for the records read on hot paths (a job is read back at
/// every claim, and `JSONDecoder` cost more than the rest of the claim).
///
/// It is a fast path, not a second JSON parser to trust: it accepts only
/// input it reads exactly as `JSONDecoder` would, and throws
/// ``MLJSONReader/Unsupported`` for anything else (a number whose reading
/// `JSONDecoder` decides differently, a duplicate key, invalid JSON).
/// Callers then decode with `JSONDecoder`, which gives the result or the
/// error it always gave. Tests compare the two on generated and hostile
/// records. Whitespace between tokens is read as JSON allows it (space, tab,
/// line feed, carriage return): PostgreSQL's `jsonb` writes a space after
/// every colon and comma, and a job record it claimed is read here.
package struct MLJSONReader {
    /// The input is outside what this reader handles; decode it with `JSONDecoder`.
    package struct Unsupported: Error {
        /// Creates the signal.
        package init() {}
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    /// The position of the next byte to read.
    private var index = 0
    /// How many arrays and objects of values enclose the next byte.
    private var depth = 0

    /// The deepest nesting of values read here; deeper records are left to
    /// `JSONDecoder`, which has its own limit, so that a hostile record can
    /// neither exhaust the stack nor be read differently.
    package static let maximumDepth = 64

    /// Runs `body` with a reader over `text`'s UTF-8 bytes.
    package static func read<T>(_ text: String, _ body: (inout MLJSONReader) throws -> T) throws -> T {
        var text = text
        text.makeContiguousUTF8()
        return try text.utf8.withContiguousStorageIfAvailable { buffer in
            var reader = MLJSONReader(bytes: buffer)
            return try body(&reader)
        } ?? { throw Unsupported() }()
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private var next: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func expect(_ byte: UInt8) throws {
        guard next == byte else { throw Unsupported() }
        index += 1
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard next == byte else { return false }
        index += 1
        return true
    }

    /// Fails unless every byte was read, but for whitespace.
    package mutating func expectEnd() throws {
        skipWhitespace()
        guard index == bytes.count else { throw Unsupported() }
    }

    /// Skips the whitespace JSON allows between tokens.
    private mutating func skipWhitespace() {
        while let byte = next, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    // MARK: Objects

    /// Reads an object, calling `field` with each key's bytes; `field` must
    /// read the value. Keys must be plain ASCII without escapes: the records
    /// this reads name their fields so, and any other key is left to `JSONDecoder`.
    package mutating func readObject(_ field: (inout MLJSONReader, UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return }
        repeat {
            skipWhitespace()
            let key = try readPlainKey()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try field(&self, key)
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    private mutating func readPlainKey() throws -> UnsafeBufferPointer<UInt8> {
        try expect(UInt8(ascii: "\""))
        let start = index
        while let byte = next, byte != UInt8(ascii: "\"") {
            // Escapes, control characters and non-ASCII bytes: not a plain key.
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { throw Unsupported() }
            index += 1
        }
        let key = UnsafeBufferPointer(rebasing: bytes[start..<index])
        try expect(UInt8(ascii: "\""))
        return key
    }

    /// Reads `null` if it is next; returns whether it was.
    package mutating func readNull() -> Bool {
        guard index + 4 <= bytes.count, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
            bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
        else { return false }
        index += 4
        return true
    }

    /// Reads `true` or `false`.
    package mutating func readBool() throws -> Bool {
        if matches("true") { return true }
        if matches("false") { return false }
        throw Unsupported()
    }

    private mutating func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    // MARK: Numbers

    /// The bytes of the number that is next, and whether it has a fraction or exponent.
    private mutating func numberToken() throws -> (token: UnsafeBufferPointer<UInt8>, whole: Bool) {
        let start = index
        _ = consume(UInt8(ascii: "-"))
        guard let first = next, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { throw Unsupported() }
        index += 1
        if first == UInt8(ascii: "0"), let digit = next, digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") {
            throw Unsupported()  // a leading zero is not JSON
        }
        skipDigits()
        var whole = true
        if consume(UInt8(ascii: ".")) {
            whole = false
            guard skipDigits() > 0 else { throw Unsupported() }
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            whole = false
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard skipDigits() > 0 else { throw Unsupported() }
        }
        return (UnsafeBufferPointer(rebasing: bytes[start..<index]), whole)
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = next, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    /// Reads an integer written without fraction or exponent that fits in 64 bits.
    package mutating func readInt64() throws -> Int64 {
        let (token, whole) = try numberToken()
        guard whole else { throw Unsupported() }
        return try Self.integer(token)
    }

    /// Reads an integer as an `Int`.
    package mutating func readInt() throws -> Int {
        guard let value = Int(exactly: try readInt64()) else { throw Unsupported() }
        return value
    }

    /// Reads any finite number as a `Double`.
    package mutating func readDouble() throws -> Double {
        let (token, _) = try numberToken()
        return try Self.double(token)
    }

    private static func integer(_ token: UnsafeBufferPointer<UInt8>) throws -> Int64 {
        let negative = token[0] == UInt8(ascii: "-")
        let digits = negative ? token.dropFirst() : token[...]
        // "-0" is the one integer whose reading could differ; leave it to JSONDecoder.
        guard digits.count <= 19, !(negative && digits.count == 1 && digits.first == UInt8(ascii: "0")) else {
            throw Unsupported()
        }
        var magnitude: UInt64 = 0
        for digit in digits { magnitude = magnitude * 10 + UInt64(digit - UInt8(ascii: "0")) }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw Unsupported() }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw Unsupported() }
        return Int64(magnitude)
    }

    private static func double(_ token: UnsafeBufferPointer<UInt8>) throws -> Double {
        // Swift's parser rounds correctly, as JSONDecoder's does; out-of-range values are left to it.
        guard let value = Double(String(decoding: token, as: UTF8.self)), value.isFinite else { throw Unsupported() }
        return value
    }

    // MARK: Strings

    /// Reads a string, escapes included.
    package mutating func readString() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        while let byte = next, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw Unsupported() }  // JSON requires control characters escaped
            index += 1
        }
        if consume(UInt8(ascii: "\"")) {
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
        }
        var text = Array(bytes[start..<index])
        while true {
            guard let byte = next else { throw Unsupported() }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try readEscape(into: &text)
            default:
                guard byte >= 0x20 else { throw Unsupported() }
                text.append(byte)
            }
        }
    }

    private mutating func readEscape(into text: inout [UInt8]) throws {
        guard let byte = next else { throw Unsupported() }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(byte)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try readHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                try expect(UInt8(ascii: "\\"))
                try expect(UInt8(ascii: "u"))
                let low = UInt32(try readHex4())
                guard (0xDC00...0xDFFF).contains(low) else { throw Unsupported() }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw Unsupported() }  // a lone low surrogate
            text.append(contentsOf: String(unicode).utf8)
        default:
            throw Unsupported()
        }
    }

    private mutating func readHex4() throws -> UInt16 {
        guard index + 4 <= bytes.count else { throw Unsupported() }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Unsupported()
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    // MARK: Values

    /// One level deeper; fails past ``maximumDepth``.
    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maximumDepth else { throw Unsupported() }
    }

    /// Reads any value as ``MLJSONValue``, the way its `Decodable` conformance
    /// reads it. A number with a fraction or exponent that is a whole number
    /// in `Int64`'s range (`2.0`, `1e2`) is left to `JSONDecoder`, which
    /// decides between `.int` and `.double`.
    package mutating func readValue() throws -> MLJSONValue {
        skipWhitespace()
        switch next {
        case UInt8(ascii: "{"): return .object(try readObjectValue())
        case UInt8(ascii: "["):
            index += 1
            try enter()
            defer { depth -= 1 }
            var values: [MLJSONValue] = []
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return .array(values) }
            repeat {
                values.append(try readValue())
                skipWhitespace()
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
            return .array(values)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try readBool())
        case UInt8(ascii: "n"):
            guard readNull() else { throw Unsupported() }
            return .null
        default:
            let (token, whole) = try numberToken()
            if whole { return .int(try Self.integer(token)) }
            let value = try Self.double(token)
            guard Int64(exactly: value) == nil else { throw Unsupported() }
            return .double(value)
        }
    }

    /// Reads an object of values. Keys may hold escapes and any character,
    /// but two keys that Swift counts as equal (a duplicate, or two
    /// canonically equivalent spellings) are left to `JSONDecoder`.
    package mutating func readObjectValue() throws -> MLJSONObject {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        try enter()
        defer { depth -= 1 }
        var object: MLJSONObject = [:]
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return object }
        repeat {
            skipWhitespace()
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            guard object.updateValue(try readValue(), forKey: key) == nil else { throw Unsupported() }
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        return object
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes spell `name`.
    package func spells(_ name: StaticString) -> Bool {
        guard count == name.utf8CodeUnitCount else { return false }
        for offset in 0..<count where self[offset] != name.utf8Start[offset] { return false }
        return true
    }
}
