import Foundation
import RedMLPersistence

/// A reproducible stream of pseudo-random bytes, generated one buffer at a time
/// so that a blob of any size streams without being held in memory.
struct DeterministicBytes: AsyncSequence, Sendable {
    typealias Element = Data

    /// Total number of bytes.
    let size: Int
    /// Size of each buffer but possibly the last.
    let bufferSize: Int
    /// Different seeds give different bytes.
    let seed: UInt64

    init(size: Int, bufferSize: Int = 1 << 20, seed: UInt64) {
        precondition(bufferSize > 0 && bufferSize % 8 == 0, "bufferSize must be a positive multiple of 8")
        self.size = size
        self.bufferSize = bufferSize
        self.seed = seed
    }

    /// Buffer number `index`: a SplitMix64 stream keyed by the seed and the byte position.
    func buffer(_ index: Int) -> Data? {
        let start = index * bufferSize
        guard start < size else { return nil }
        let count = Swift.min(bufferSize, size - start)
        var data = Data(count: (count + 7) / 8 * 8)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            var state = seed &+ UInt64(start / 8) &* 0x9E37_79B9_7F4A_7C15
            for position in 0..<words.count {
                state = state &+ 0x9E37_79B9_7F4A_7C15
                var mixed = state
                mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
                mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
                words[position] = (mixed ^ (mixed >> 31)).littleEndian
            }
        }
        if data.count != count { data.removeLast(data.count - count) }
        return data
    }

    /// The SHA-256 and size of the whole stream, computed without the store.
    func digest() -> (sha256: String, size: Int64) {
        var hasher = MLBlobHasher()
        var index = 0
        while let buffer = buffer(index) {
            hasher.update(buffer)
            index += 1
        }
        return (hasher.finalize(), hasher.size)
    }

    func makeAsyncIterator() -> Iterator { Iterator(bytes: self) }

    /// Yields the buffers in order.
    struct Iterator: AsyncIteratorProtocol {
        let bytes: DeterministicBytes
        var index = 0

        mutating func next() async throws -> Data? {
            defer { index += 1 }
            return bytes.buffer(index)
        }
    }
}
