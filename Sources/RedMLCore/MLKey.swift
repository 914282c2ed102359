/// Builds and parses the keys that records are stored under.
///
/// Every caller builds keys through these helpers, so a future change of key
/// format happens in one place. The formats are part of the on-disk contract.
public enum MLKey {
    /// The key of a model record: the model's name itself.
    public static func model(_ name: String) -> String {
        name
    }

    /// The key of a model version record, for example `spam_classifier@v42`.
    public static func modelVersion(_ model: String, _ version: UInt32) -> String {
        "\(model)@v\(version)"
    }

    /// The key of a job record: 32 lowercase hex digits, zero-padded, so that
    /// keys sort in id order.
    public static func job(_ id: UInt128) -> String {
        // By nibble into a fixed buffer: `String(_:radix:)` divides a UInt128
        // generically, which took a fifth of the queue's time in profiles. Each
        // half is shifted as a UInt64: a variable shift of a UInt128 costs more.
        String(unsafeUninitializedCapacity: 32) { buffer in
            let high = UInt64(truncatingIfNeeded: id >> 64)
            let low = UInt64(truncatingIfNeeded: id)
            for index in 0..<16 {
                let shift = UInt64(60 - 4 * index)
                buffer[index] = hexDigit(UInt8(truncatingIfNeeded: high >> shift) & 0xF)
                buffer[16 + index] = hexDigit(UInt8(truncatingIfNeeded: low >> shift) & 0xF)
            }
            return 32
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// Parses a ``job(_:)`` key back into an id.
    ///
    /// Returns `nil` unless `raw` is exactly 32 hex digits, so that a sweep over
    /// stored keys skips a malformed record instead of failing on it.
    public static func parseJob(_ raw: String) -> UInt128? {
        let utf8 = raw.utf8
        guard utf8.count == 32 else { return nil }
        var id: UInt128 = 0
        for byte in utf8 {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            id = id << 4 | UInt128(digit)
        }
        return id
    }

    /// Parses a ``modelVersion(_:_:)`` key back into its model and version.
    ///
    /// It splits at the *last* `@v`, so model names may contain `@`:
    /// `weird@name@v7` gives `("weird@name", 7)`. It returns `nil` when the part
    /// after `@v` is not a decimal number that fits in 32 bits.
    public static func parseModelVersion(_ raw: String) -> (model: String, version: UInt32)? {
        let bytes = Array(raw.utf8)
        guard bytes.count >= 3 else { return nil }
        // `@` is ASCII, so splitting at its byte offset keeps both halves valid UTF-8.
        guard
            let at = (0...(bytes.count - 2)).reversed().first(where: {
                bytes[$0] == UInt8(ascii: "@") && bytes[$0 + 1] == UInt8(ascii: "v")
            })
        else { return nil }
        let digits = bytes[(at + 2)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit),
            let version = UInt32(String(decoding: digits, as: UTF8.self))
        else { return nil }
        return (String(decoding: bytes[..<at], as: UTF8.self), version)
    }
}

extension UInt8 {
    fileprivate var isASCIIDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
}
