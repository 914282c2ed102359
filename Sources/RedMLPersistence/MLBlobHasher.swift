import Crypto
import Foundation

/// Incremental SHA-256 over a blob's bytes, with the running size.
public struct MLBlobHasher {
    private var hasher = SHA256()
    /// Bytes hashed so far.
    public private(set) var size: Int64 = 0

    /// Starts an empty hash.
    public init() {}

    /// Hashes more bytes.
    public mutating func update(_ bytes: Data) {
        hasher.update(data: bytes)
        size += Int64(bytes.count)
    }

    /// The lowercase hex digest of everything hashed so far.
    public func finalize() -> String {
        Self.hex(hasher.finalize())
    }

    /// The lowercase hex SHA-256 of `bytes`.
    public static func sha256(of bytes: Data) -> String {
        hex(SHA256.hash(data: bytes))
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
