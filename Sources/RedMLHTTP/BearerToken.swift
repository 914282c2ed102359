/// Checks `Authorization: Bearer …` headers against the configured token.
enum BearerToken {
    /// Whether `header` is `Bearer <token>` (the scheme in any case), compared in time that does not
    /// depend on where the first difference is, so the token cannot be guessed
    /// byte by byte from response times.
    static func authorizes(_ header: String?, token: String) -> Bool {
        guard let header else { return false }
        let prefix = "bearer "
        // The scheme is case-insensitive (RFC 9110 section 11.1); the token is not.
        guard header.utf8.count >= prefix.utf8.count,
            header.utf8.prefix(prefix.utf8.count).map({ $0 | 0x20 }).elementsEqual(prefix.utf8)
        else { return false }
        return constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(token.utf8))
    }

    /// Compares every byte of the longer input whatever the contents; only the
    /// lengths leak, which a token's length does not make guessable.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
