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
        rhs.string.withUTF8Bytes { lhs.string.hasBytes($0) }
    }

    func hash(into hasher: inout Hasher) {
        string.withUTF8Bytes { hasher.combine(bytes: $0) }
    }
}
