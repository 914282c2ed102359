import Foundation

/// Byte equality for the short keys and names the in-memory store compares on
/// every lookup.
enum ByteCompare {
    /// Whether `a` and `b` hold the same bytes. Up to 16 bytes take two word
    /// loads each and no call, since `memcmp` costs more than that for a key.
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let count = a.count
        guard count == b.count else { return false }
        if count >= 8 {
            guard count <= 16 else { return memcmp(a.baseAddress!, b.baseAddress!, count) == 0 }
            // Two overlapping words cover 8...16 bytes.
            return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
                && a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                    == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        for offset in 0..<count where a[offset] != b[offset] {
            return false
        }
        return true
    }
}

extension String {
    /// Whether the string's UTF-8 bytes are exactly `bytes`, inlined for hot paths.
    @inline(__always)
    func hasBytes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        withUTF8Bytes { ByteCompare.equal($0, bytes) }
    }
}
