import Foundation

/// A string that hashes and compares by its UTF-8 bytes.
///
/// Swift's `String` equality is Unicode canonical equivalence, so `"caf\u{E9}"`
/// and `"cafe\u{301}"` are one dictionary key; every other backend, like
/// ``MLKeyOrder``, tells them apart by their bytes. The in-memory store keys
/// its dictionaries with this type so that it agrees with them.
struct ByteKey: Hashable {
    let string: String

    init(_ string: String) {
        self.string = string
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        var left = lhs.string
        var right = rhs.string
        // Native strings are contiguous UTF-8 already, so this is a length check and a memcmp.
        return left.withUTF8 { l in
            right.withUTF8 { r in
                l.count == r.count && (l.count == 0 || memcmp(l.baseAddress!, r.baseAddress!, l.count) == 0)
            }
        }
    }

    func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if hashed == nil {
            Array(string.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
