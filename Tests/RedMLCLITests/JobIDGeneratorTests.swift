import Foundation
import RedML
import Testing

@testable import RedMLCLI

@Suite("MLJobIDGenerator")
struct JobIDGeneratorTests {
    @Test("ids carry their millisecond timestamp and the UUIDv7 version and variant")
    func layout() {
        var generator = MLJobIDGenerator()
        let date = Date(timeIntervalSince1970: 1_795_000_000.123)
        let id = generator.next(at: date)
        // RFC 9562 §5.7, read off the bits rather than through the generator's own decoder:
        // unix_ts_ms in bits 127…80, ver in 79…76, rand_a in 75…64, var in 63…62, rand_b in 61…0.
        #expect(id >> 80 == 1_795_000_000_123)
        #expect((id >> 76) & 0xF == 7)
        #expect((id >> 62) & 0b11 == 0b10)
        #expect(MLJobIDGenerator.milliseconds(of: id) == 1_795_000_000_123)
    }

    @Test("the 74 random bits fill rand_a and rand_b around the version and variant, none lost")
    func randomBitsLayout() {
        // A source that always answers all ones: the counter is then 73 one bits (its top bit is kept clear).
        struct AllOnes: RandomNumberGenerator, Sendable {
            mutating func next() -> UInt64 { .max }
        }
        var generator = MLJobIDGenerator(random: AllOnes())
        let id = generator.next(at: Date(timeIntervalSince1970: 1_795_000_000.123))
        let expected: UInt128 = (UInt128(1_795_000_000_123) << 80)  // unix_ts_ms
            | (UInt128(0x7) << 76)  // ver
            | (UInt128(0x7FF) << 64)  // rand_a: the counter's top 12 bits, the first of them clear
            | (UInt128(0b10) << 62)  // var
            | ((UInt128(1) << 62) - 1)  // rand_b: the counter's low 62 bits
        #expect(id == expected, "\(String(id, radix: 16)) != \(String(expected, radix: 16))")
    }

    @Test("ids strictly increase, even when the clock stands still or steps back")
    func monotonic() {
        var generator = MLJobIDGenerator()
        let now = Date()
        var last = generator.next(at: now)
        for step in 0..<1000 {
            let date = step % 3 == 0 ? now.addingTimeInterval(-1) : now
            let id = generator.next(at: date)
            #expect(id > last)
            #expect((id >> 76) & 0xF == 7)
            #expect((id >> 62) & 0b11 == 0b10)
            last = id
        }
    }
}
