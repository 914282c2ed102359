import Foundation

/// Makes job ids laid out like a UUIDv7, as `UInt128`s for ``MLKey/job(_:)``.
///
/// From the most significant bit: a 48-bit Unix timestamp in milliseconds,
/// the version nibble `7`, then 74 random bits (with the RFC 9562 variant bits
/// `10` between the 12-bit and the 62-bit part). Ids therefore sort by creation
/// time, and so do their job keys. Within one generator, ids strictly increase
/// even when the clock stalls or steps back: the random part then counts up.
/// Processes need no coordination: two processes minting ids in the same
/// millisecond collide only if 74 random bits do.
public struct MLJobIDGenerator: Sendable {
    private var random: any RandomNumberGenerator & Sendable
    private var lastMilliseconds: UInt64 = 0
    private var lastCounter: UInt128 = 0

    /// The largest value of the 74-bit random part.
    public static var counterMask: UInt128 { (UInt128(1) << 74) - 1 }

    /// A generator drawing its random bits from `random`; by default the
    /// system's secure random source.
    public init(random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.random = random
    }

    /// The next id, for a job created at `date`.
    public mutating func next(at date: Date = Date()) -> UInt128 {
        let now = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down))) & 0xFFFF_FFFF_FFFF
        var milliseconds = now
        var counter: UInt128
        if milliseconds > lastMilliseconds || (lastMilliseconds == 0 && lastCounter == 0) {
            counter = randomCounter()
        } else {
            milliseconds = lastMilliseconds
            counter = lastCounter + 1
            if counter > Self.counterMask {
                milliseconds += 1
                counter = randomCounter()
            }
        }
        lastMilliseconds = milliseconds
        lastCounter = counter
        return Self.compose(milliseconds: milliseconds, counter: counter)
    }

    /// The creation time in milliseconds since 1970 that `id` carries.
    public static func milliseconds(of id: UInt128) -> UInt64 {
        UInt64(truncatingIfNeeded: id >> 80)
    }

    /// Builds an id from its timestamp and its 74-bit random part.
    public static func compose(milliseconds: UInt64, counter: UInt128) -> UInt128 {
        let high = counter >> 62  // 12 bits: rand_a
        let low = counter & ((UInt128(1) << 62) - 1)  // 62 bits: rand_b
        return UInt128(milliseconds & 0xFFFF_FFFF_FFFF) << 80
            | UInt128(0x7) << 76
            | high << 64
            | UInt128(0b10) << 62
            | low
    }

    /// Fresh random bits, with the top one clear so that counting up from
    /// them does not overflow in practice.
    private mutating func randomCounter() -> UInt128 {
        let bits = UInt128(random.next() as UInt64) << 64 | UInt128(random.next() as UInt64)
        return bits & (Self.counterMask >> 1)
    }
}
