import Foundation

/// Deterministic stand-in model weights: the same run number always gives the
/// same bytes (and so the same SHA-256), and different runs give different ones.
///
/// The bytes come from SplitMix64 seeded with the run number, delivered in
/// buffers so that ``MLStore/writeBlob(_:)`` stages them as a stream.
struct DemoWeights: AsyncSequence {
    /// Bytes per run: a few hundred KB.
    static let defaultSize = 320 * 1024

    /// The run number the bytes derive from.
    let run: UInt32
    /// The total size in bytes.
    let size: Int
    /// The size of each buffer the sequence yields.
    let bufferSize: Int

    /// Weights for `run`, `size` bytes, yielded `bufferSize` at a time.
    init(run: UInt32, size: Int = DemoWeights.defaultSize, bufferSize: Int = 64 * 1024) {
        self.run = run
        self.size = size
        self.bufferSize = bufferSize
    }

    /// Starts yielding the bytes from the beginning.
    func makeAsyncIterator() -> Iterator {
        Iterator(state: 0x5EED_0000_0000_0000 ^ UInt64(run), remaining: size, bufferSize: bufferSize)
    }

    /// Yields the next buffer of bytes.
    struct Iterator: AsyncIteratorProtocol {
        var state: UInt64
        var remaining: Int
        let bufferSize: Int

        /// The next buffer, or `nil` after the last byte.
        mutating func next() async -> Data? {
            guard remaining > 0 else { return nil }
            let count = Swift.min(bufferSize, remaining)
            remaining -= count
            var buffer = Data(capacity: count)
            while buffer.count < count {
                var word = splitMix64()
                for _ in 0..<Swift.min(8, count - buffer.count) {
                    buffer.append(UInt8(truncatingIfNeeded: word))
                    word >>= 8
                }
            }
            return buffer
        }

        private mutating func splitMix64() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
