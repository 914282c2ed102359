import RedML
import RedMLCore
import Testing

@testable import RedMLPersistence

/// ``MLKeyOrder`` compares with `memcmp`; it must agree with comparing the
/// UTF-8 bytes one by one, for every length and kind of character.
@Suite("Key order")
struct KeyOrderTests {
    private static let pieces = ["", "a", "b", "ab", "a\u{0}", "z", "é", "e\u{301}", "ÿ", "\u{FFFF}", "😀", "jobs/", "0", "~"]

    @Test("memcmp order agrees with byte-by-byte order, and equal keys sort before nothing")
    func agreesWithBytes() {
        var random = SplitMix64(seed: 7)
        var keys = Self.pieces
        for _ in 0..<400 {
            let length = Int(random.next() % 40)
            var key = ""
            for _ in 0..<length { key += Self.pieces[Int(random.next() % UInt64(Self.pieces.count))] }
            keys.append(key)
        }
        for left in keys {
            for right in keys.prefix(60) {
                let expected = Array(left.utf8).lexicographicallyPrecedes(Array(right.utf8))
                #expect(MLKeyOrder.less(left, right) == expected, "\(Array(left.utf8)) < \(Array(right.utf8))")
                #expect(MLKeyOrder.less(right, left) == Array(right.utf8).lexicographicallyPrecedes(Array(left.utf8)))
            }
        }
        // Canonically equivalent but different bytes: ordered by bytes, never equal.
        #expect(MLKeyOrder.less("e\u{301}", "é") != MLKeyOrder.less("é", "e\u{301}"))
    }
}
