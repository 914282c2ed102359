/// A key being looked up: its hash and, when it is at most 16 bytes long, its
/// bytes held by value.
///
/// A ``KeyTable`` lookup hashes the key inside a closure that captures only
/// the hasher, then probes outside any closure. A closure that captured the
/// table instead, passed to a call the compiler does not inline, makes it copy
/// the table (retaining and releasing each of its arrays) on every lookup.
struct LookupKey {
    let hash: UInt64
    let count: Int
    /// The first and last eight bytes (overlapping below 16); under eight
    /// bytes, `head` alone covers them the same way with narrower reads.
    private let head: UInt64
    private let tail: UInt64

    /// Keys longer than this are compared against their bytes in place.
    static var maxInlineCount: Int { 16 }

    var isInline: Bool { count <= Self.maxInlineCount }

    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer, hash: UInt64) {
        self.hash = hash
        count = bytes.count
        (head, tail) = count <= Self.maxInlineCount ? Self.words(bytes) : (0, 0)
    }

    /// Whether `bytes` are this key's bytes; only for an inline key.
    @inline(__always)
    func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == count else { return false }
        let (head, tail) = Self.words(bytes)
        return head == self.head && tail == self.tail
    }

    @inline(__always)
    private static func words(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let count = bytes.count
        if count >= 8 {
            return (bytes.loadUnaligned(as: UInt64.self),
                    bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
        }
        // With the count compared separately, overlapping reads from both ends cover every byte.
        if count >= 4 {
            let first = UInt64(bytes.loadUnaligned(as: UInt32.self))
            return (first | UInt64(bytes.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)) &<< 32, 0)
        }
        guard count > 0 else { return (0, 0) }
        return (UInt64(bytes[0]) | UInt64(bytes[count >> 1]) &<< 8 | UInt64(bytes[count - 1]) &<< 16, 0)
    }
}
