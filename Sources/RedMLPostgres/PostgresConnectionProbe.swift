import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

extension PostgresMLPersistence {
    /// Why a connection to the server at `url` cannot be made, in the
    /// server's or the network's words (`password authentication failed for
    /// user "redml"`, `database "x" does not exist`, `connection refused`), or
    /// `nil` when one can: for a caller whose store waits for a connection,
    /// since the connection pool retries a failing connection without a word
    /// to its queries. Makes one connection outside the pool, and closes it.
    ///
    /// - Throws: ``MLPersistenceError/invalidArgument(_:)`` for a malformed URL.
    public static func connectionProblem(url: String, logger: Logger) async throws -> String? {
        let parsed = try PostgresURL(url)
        let tls: PostgresConnection.Configuration.TLS
        do {
            tls = try parsed.sslMode.connectionTLS
        } catch {
            return "the TLS settings of sslmode=\(parsed.sslMode.rawValue) cannot be used: \(error)"
        }
        let configuration = PostgresConnection.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
            database: parsed.database, tls: tls)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch let error as PSQLError {
            return describe(error, url: parsed)
        } catch {
            return String(describing: error)
        }
    }

    /// The words of the server's answer or of the network error under `error`.
    private static func describe(_ error: PSQLError, url: PostgresURL) -> String {
        if let message = error.serverInfo?[.message] {
            return message
        }
        if error.code == .sslUnsupported {
            return "the server does not offer TLS, which sslmode=\(url.sslMode.rawValue) requires; "
                + "use sslmode=prefer or disable, or enable ssl on the server"
        }
        if let connecting = error.underlying as? NIOConnectionError {
            if connecting.dnsAError != nil && connecting.dnsAAAAError != nil && connecting.connectionErrors.isEmpty {
                return "the host name \(url.host) does not resolve"
            }
            if let failure = connecting.connectionErrors.lazy.compactMap({ $0.error as? IOError }).first {
                return "\(String(cString: strerror(failure.errnoCode)).lowercased()) at \(url.host):\(url.port)"
            }
        }
        if let underlying = error.underlying {
            return String(describing: underlying)
        }
        return "\(error.code)"
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
