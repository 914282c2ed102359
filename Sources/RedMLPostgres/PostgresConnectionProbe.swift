import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Why a connection to a PostgreSQL server could not be made.
public struct PostgresConnectionProblem: Sendable, Hashable {
    /// The server's or the network's words: `password authentication failed
    /// for user "redml"`, `database "x" does not exist`, `connection refused at …`.
    public var message: String
    /// Whether trying again cannot help (the server refused these credentials,
    /// this database or this TLS setting), as opposed to a server that is not
    /// up yet, is starting, or has no connection slot free.
    public var isLasting: Bool
}

extension PostgresMLPersistence {
    /// Why a connection to the server at `url` cannot be made, or `nil` when
    /// one can: for a caller whose store waits for a connection, since the
    /// connection pool retries a failing connection without a word to its
    /// queries. Makes one connection outside the pool, and closes it.
    ///
    /// The connection gives up after `timeout` (PostgresNIO cannot cancel a
    /// connect in flight, so a caller's deadline must bound it here).
    ///
    /// - Throws: ``MLPersistenceError/invalidArgument(_:)`` for a malformed URL.
    public static func connectionProblem(
        url: String, timeout: Duration, logger: Logger
    ) async throws -> PostgresConnectionProblem? {
        let parsed = try PostgresURL(url)
        let tls: PostgresConnection.Configuration.TLS
        do {
            tls = try parsed.sslMode.connectionTLS
        } catch {
            return PostgresConnectionProblem(
                message: "the TLS settings of sslmode=\(parsed.sslMode.rawValue) cannot be used: \(error)", isLasting: true)
        }
        var configuration = PostgresConnection.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
            database: parsed.database, tls: tls)
        configuration.options.connectTimeout = TimeAmount(max(timeout, .milliseconds(1)))
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch let error as PSQLError {
            return describe(error, url: parsed)
        } catch {
            return PostgresConnectionProblem(message: String(describing: error), isLasting: false)
        }
    }

    /// SQLSTATEs of a refusal that trying again cannot change: the user or
    /// password (`invalid_authorization_specification`, `invalid_password`),
    /// the database (`invalid_catalog_name`), the right to connect
    /// (`insufficient_privilege`). Any other (a server starting or restarting,
    /// out of slots, a pooler that cannot reach its server yet) may pass.
    private static let lastingStates: Set<String> = ["28000", "28P01", "3D000", "42501"]

    /// The words of the server's answer or of the network error under `error`.
    private static func describe(_ error: PSQLError, url: PostgresURL) -> PostgresConnectionProblem {
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState] ?? ""
            return PostgresConnectionProblem(message: message, isLasting: lastingStates.contains(state))
        }
        if error.code == .sslUnsupported {
            return PostgresConnectionProblem(
                message: "the server does not offer TLS, which sslmode=\(url.sslMode.rawValue) requires; "
                    + "use sslmode=prefer or disable, or enable ssl on the server",
                isLasting: true)
        }
        // The network's errors may pass: a server that is not up yet, a name not yet in DNS.
        if case ChannelError.connectTimeout(let waited)? = error.underlying as? ChannelError {
            let seconds = Double(waited.nanoseconds) / 1e9
            return PostgresConnectionProblem(
                message: "no answer from \(url.host):\(url.port) within \((seconds * 10).rounded() / 10) s", isLasting: false)
        }
        if let connecting = error.underlying as? NIOConnectionError {
            if connecting.dnsAError != nil && connecting.dnsAAAAError != nil && connecting.connectionErrors.isEmpty {
                return PostgresConnectionProblem(message: "the host name \(url.host) does not resolve", isLasting: false)
            }
            if let failure = connecting.connectionErrors.lazy.compactMap({ $0.error as? IOError }).first {
                return PostgresConnectionProblem(
                    message: "\(String(cString: strerror(failure.errnoCode)).lowercased()) at \(url.host):\(url.port)",
                    isLasting: false)
            }
        }
        return PostgresConnectionProblem(
            message: error.underlying.map { String(describing: $0) } ?? "\(error.code)", isLasting: false)
    }
}

extension PostgresURL.SSLMode {
    /// ``tls`` for a single connection, which takes a ready TLS context.
    var connectionTLS: PostgresConnection.Configuration.TLS {
        get throws {
            guard let settings = tlsSettings else { return .disable }
            let context = try NIOSSLContext(configuration: settings.configuration)
            return settings.required ? .require(context) : .prefer(context)
        }
    }
}
