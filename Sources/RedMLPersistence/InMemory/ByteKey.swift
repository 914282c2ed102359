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
        lhs.string.utf8.count == rhs.string.utf8.count && lhs.string.utf8.elementsEqual(rhs.string.utf8)
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
