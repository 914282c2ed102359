import Foundation
import PostgresNIO
import RedMLPersistence

/// A `postgres://user:password@host:port/database?sslmode=…&schema=…` URL,
/// parsed into what ``PostgresClient`` needs and the store's schema.
struct PostgresURL: Sendable {
    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?
    var sslMode: SSLMode
    /// The `schema` parameter: the PostgreSQL schema of the store's tables, if given.
    var schema: String?

    /// libpq's `sslmode` values, which choose whether to use TLS and what to verify.
    enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"

        /// The TLS configuration this mode uses and whether it insists on TLS,
        /// with libpq's meaning: `allow` and `prefer` encrypt when the server
        /// offers it, `require` insists, all three without checking the
        /// certificate; `verify-ca` checks the chain, `verify-full` also the host
        /// name. `nil` for `disable`.
        var tlsSettings: (configuration: TLSConfiguration, required: Bool)? {
            var unverified = TLSConfiguration.makeClientConfiguration()
            unverified.certificateVerification = .none
            var chainOnly = TLSConfiguration.makeClientConfiguration()
            chainOnly.certificateVerification = .noHostnameVerification
            switch self {
            case .disable: return nil
            case .allow, .prefer: return (unverified, false)
            case .require: return (unverified, true)
            case .verifyCA: return (chainOnly, true)
            case .verifyFull: return (.makeClientConfiguration(), true)
            }
        }

        /// The connection pool's TLS setting.
        var tls: PostgresClient.Configuration.TLS {
            guard let settings = tlsSettings else { return .disable }
            return settings.required ? .require(settings.configuration) : .prefer(settings.configuration)
        }
    }

    /// Parses `text`; the message of the error names the part that is wrong.
    init(_ text: String) throws {
        func invalid(_ reason: String) -> MLPersistenceError {
            .invalidArgument("PostgreSQL URL \(Self.redacted(text)): \(reason)")
        }
        guard let components = URLComponents(string: text) else {
            throw invalid("not a URL; expected postgres://user:password@host:port/database?sslmode=prefer "
                          + "(percent-encode characters such as @ : / ? # in the user name or password)")
        }
        // Schemes are case-insensitive (RFC 3986).
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw invalid("scheme must be postgres or postgresql, got '\(components.scheme ?? "")'")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("no host") }
        guard let user = components.user, !user.isEmpty else {
            throw invalid("no user name (percent-encode characters such as @ : / ? # in the user name or password)")
        }
        self.host = host
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw invalid("port \(port) is out of range") }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? nil : (path.removingPercentEncoding ?? path)
        sslMode = .prefer
        for item in components.queryItems ?? [] {
            if item.name == "schema" {
                guard let name = item.value, PostgresTables.isValidSchemaName(name) else {
                    throw invalid("schema '\(item.value ?? "")' must be 1 to 63 characters of a-z, 0-9 and _, "
                                  + "not starting with a digit or pg_")
                }
                schema = name
                continue
            }
            guard item.name == "sslmode" else {
                throw invalid("unsupported parameter '\(item.name)' (supported: sslmode, schema)")
            }
            guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                throw invalid(
                    "sslmode '\(item.value ?? "")' is not one of "
                        + SSLMode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            sslMode = mode
        }
    }

    /// The client configuration, with `tls` overriding the URL's `sslmode` when given.
    func clientConfiguration(tls: PostgresClient.Configuration.TLS?) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: tls ?? sslMode.tls)
        // Every transaction the store runs is short. One left open is a stalled
        // client (a stopped process, a partitioned machine): the server ends its
        // session so that the rows it locked do not stay locked for everyone else.
        configuration.options.additionalStartupParameters.append(
            ("idle_in_transaction_session_timeout", String(Self.stalledTransactionTimeoutMs)))
        return configuration
    }

    /// How long a connection may sit in an open transaction before the server
    /// ends its session: 10 s.
    static let stalledTransactionTimeoutMs = 10_000

    /// Where the store lives, for messages: no password.
    var display: String {
        "postgres://\(username)@\(host):\(port)/\(database ?? username)"
    }

    /// `text` with any password replaced, safe for error messages.
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text) else { return "(unparseable, not shown)" }
        guard components.password != nil else {
            // A password that broke the URL may have been read as part of the host or path: hide
            // everything before the authority's last `@` when it has a `:` (a user name alone stays).
            guard let start = text.range(of: "://"), let at = text[start.upperBound...].lastIndex(of: "@"),
                text[start.upperBound..<at].contains(":")
            else {
                return text
            }
            return String(text[..<start.upperBound]) + "***" + String(text[at...])
        }
        components.password = "***"
        return components.string ?? text
    }
}
