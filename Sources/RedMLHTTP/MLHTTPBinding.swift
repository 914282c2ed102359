/// The check `redml serve` makes before it listens: an API without a token
/// must not be reachable from other machines.
public enum MLHTTPBinding {
    /// The hosts that only this machine can reach.
    public static let loopbackHosts: Set<String> = ["127.0.0.1", "::1", "[::1]", "localhost"]

    /// Whether `host` is a loopback address: one of ``loopbackHosts`` or any
    /// IPv4 address in 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        if loopbackHosts.contains(host.lowercased()) { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.first == "127"
            && octets.allSatisfy { octet in UInt8(octet).map { String($0) == octet } ?? false }
    }

    /// Throws unless `host` is loopback or a token is set.
    ///
    /// - Throws: ``MLHTTPBindingError`` naming the host and the ways out.
    public static func validate(host: String, token: String?) throws(MLHTTPBindingError) {
        if let token, token.allSatisfy(\.isWhitespace) {
            throw MLHTTPBindingError(
                host: host, message: "refusing an empty or blank token: pass a non-empty --token or REDML_TOKEN, or none at all")
        }
        guard token == nil, !isLoopback(host) else { return }
        throw MLHTTPBindingError(
            host: host,
            message: "refusing to listen on \(host) without a token: pass --token or set REDML_TOKEN, or bind to 127.0.0.1")
    }
}

/// Why the API may not listen where it was asked to.
public struct MLHTTPBindingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable code: `insecure_binding`.
    public var code: String { "insecure_binding" }
    /// The host that was refused.
    public var host: String
    /// What is wrong and how to fix it.
    public var message: String

    public var description: String { message }
}
