/// Character rules shared by the registry's and the queue's input checks.
package enum MLTextRules {
    /// A C0 or C1 control character, refused in names, keys and tags.
    package static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// A byte allowed in short identifiers (aliases, job kinds, queue names):
    /// ASCII letters, digits, `_`, `-` and `.`.
    package static func isNameByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }
}
