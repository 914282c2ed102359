import Foundation

extension String {
    /// Calls `body` with the string's UTF-8 bytes, without copying native or small strings.
    ///
    /// Always inlined: passing a closure that captures a table to a call that is
    /// not inlined makes the compiler retain and release every array of the
    /// table around it, which costs the in-memory store's lookups more than the
    /// lookup itself.
    @inline(__always)
    func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// Whether the string's UTF-8 bytes are exactly `bytes` (no Unicode equivalence).
    func hasUTF8Bytes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        withUTF8Bytes { own in
            own.count == bytes.count && (own.count == 0 || memcmp(own.baseAddress!, bytes.baseAddress!, own.count) == 0)
        }
    }

    /// Whether the string's UTF-8 bytes start with `prefix`'s (no Unicode equivalence).
    @inline(__always)
    func hasUTF8Prefix(_ prefix: String) -> Bool {
        withUTF8Bytes { own in
            prefix.withUTF8Bytes { start in
                start.count <= own.count
                    && (start.count == 0 || memcmp(own.baseAddress!, start.baseAddress!, start.count) == 0)
            }
        }
    }
}
