import Foundation

/// A fast, seeded 64-bit hash of UTF-8 bytes, after wyhash (final version 4).
///
/// Swift's `Hasher` (SipHash-1-3) costs more than the rest of a lookup for
/// short keys. Each ``KeyTable`` draws a random seed, so callers cannot pick
/// keys that collide on purpose without seeing the table's layout.
struct KeyHasher {
    private static let secret0: UInt64 = 0x2d35_8dcc_aa6c_78a5
    private static let secret1: UInt64 = 0x8bb8_4b93_962e_acc9
    private static let secret2: UInt64 = 0x4b33_a62e_d433_d4a3
    private static let secret3: UInt64 = 0x4d5a_2da5_1de1_aa47

    private let seed: UInt64

    /// A hasher with a random seed.
    init() {
        let random = UInt64.random(in: .min ... .max)
        seed = random ^ Self.mix(random ^ Self.secret0, Self.secret1)
    }

    /// The hash of `bytes`.
    ///
    /// Always inlined: it is called from only a few lookup paths, where a
    /// call costs a visible share of a lookup whose data is in cache.
    @inline(__always)
    func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let length = bytes.count
        var seed = self.seed
        var a: UInt64
        var b: UInt64
        if length <= 16 {
            if length >= 4 {
                // Two overlapping 4-byte reads from each end cover 4...16 bytes.
                let step = (length >> 3) << 2
                a = Self.read4(bytes, 0) << 32 | Self.read4(bytes, step)
                b = Self.read4(bytes, length - 4) << 32 | Self.read4(bytes, length - 4 - step)
            } else if length > 0 {
                a = UInt64(bytes[0]) << 16 | UInt64(bytes[length >> 1]) << 8 | UInt64(bytes[length - 1])
                b = 0
            } else {
                a = 0
                b = 0
            }
        } else {
            var offset = 0
            var remaining = length
            if remaining > 48 {
                var see1 = seed
                var see2 = seed
                repeat {
                    seed = Self.mix(Self.read8(bytes, offset) ^ Self.secret1, Self.read8(bytes, offset + 8) ^ seed)
                    see1 = Self.mix(Self.read8(bytes, offset + 16) ^ Self.secret2, Self.read8(bytes, offset + 24) ^ see1)
                    see2 = Self.mix(Self.read8(bytes, offset + 32) ^ Self.secret3, Self.read8(bytes, offset + 40) ^ see2)
                    offset += 48
                    remaining -= 48
                } while remaining > 48
                seed ^= see1 ^ see2
            }
            while remaining > 16 {
                seed = Self.mix(Self.read8(bytes, offset) ^ Self.secret1, Self.read8(bytes, offset + 8) ^ seed)
                offset += 16
                remaining -= 16
            }
            // The last 16 bytes, overlapping what came before.
            a = Self.read8(bytes, offset + remaining - 16)
            b = Self.read8(bytes, offset + remaining - 8)
        }
        a ^= Self.secret1
        b ^= seed
        let product = a.multipliedFullWidth(by: b)
        return Self.mix(product.low ^ Self.secret0 ^ UInt64(length), product.high ^ Self.secret1)
    }

    /// Multiplies to 128 bits and folds the halves together.
    private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.low ^ product.high
    }

    private static func read8(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    }

    private static func read4(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
