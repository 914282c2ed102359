import PostgresNIO
import RedMLPersistence

/// Turns whatever a PostgreSQL call threw into an ``MLPersistenceError``.
///
/// Bind values never reach the message (only the server's message, its
/// SQLSTATE and the failing statement's first words), so stored values
/// cannot leak into logs.
func persistenceError(_ error: any Error, store: String) -> MLPersistenceError {
    switch error {
    case let error as MLPersistenceError:
        return error
    case let error as PSQLError:
        return .backend("postgres \(store): \(describe(error))")
    case let error as PostgresDecodingError:
        return .backend("postgres \(store): cannot decode column '\(error.columnName)' (\(error.code))")
    case is CancellationError:
        return .backend("postgres \(store): cancelled before the server answered")
    default:
        return .backend("postgres \(store): \(error)")
    }
}

/// A one-line account of a driver error: the server's message and SQLSTATE,
/// or the connection problem.
private func describe(_ error: PSQLError) -> String {
    if let info = error.serverInfo, let message = info[.message] {
        let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
        let statement = error.query.map { " in '\(firstWords(of: $0.sql))'" } ?? ""
        return message + state + statement
    }
    let underlying = error.underlying.map { ": \($0)" } ?? ""
    switch error.code {
    case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
        return "connection lost or refused (\(error.code))\(underlying); the pool reconnects, retry the call"
    case .poolClosed:
        return "the client is not running or has shut down (\(error.code)): run the store's run() "
            + "or use PostgresMLPersistence.withPersistence"
    default:
        return "\(error.code)\(underlying)"
    }
}

/// The start of a statement, enough to tell which one failed.
private func firstWords(of sql: String) -> String {
    let words = sql.split(whereSeparator: \.isWhitespace).prefix(6).joined(separator: " ")
    return words.count < sql.count ? words + " …" : words
}

/// The SQLSTATE of a server error, if the error came from the server.
func sqlState(_ error: any Error) -> String? {
    (error as? PSQLError)?.serverInfo?[.sqlState]
}

/// Whether a transaction failed only because of a concurrent one and can run
/// again as it was: serialization failure, deadlock, or a unique violation
/// from a racing insert (which a retry turns into a condition check).
func isRetryableConflict(_ error: any Error) -> Bool {
    switch sqlState(error) {
    // 53200: the server ran out of room to track serializable transactions' conflicts
    // (RWConflictPool), which frees up as concurrent transactions end.
    case "40001", "40P01", "23505", "53200": true
    default: false
    }
}
