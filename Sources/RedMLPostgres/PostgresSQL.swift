import Logging
import PostgresNIO
import RedMLPersistence

/// One leased connection and the logger its queries log to, with the few
/// query shapes the store uses.
struct PostgresSQL: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Fails the statements PostgresNIO strands when the connection closes under them.
    let watch: ClosedConnectionWatch

    /// Runs `query` and returns every row.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        // PostgresNIO 1.33 never answers a query sent on a connection the server
        // has already closed (say, after ending a stalled transaction): fail instead.
        guard !connection.isClosed else { throw PostgresConnectionClosed() }
        // The check above cannot see a close in the instant before the query is written: the watch can.
        let connection = connection, logger = logger
        return try await watch.run(on: connection) { try await connection.query(query, logger: logger).collect() }
    }

    /// Runs `query`, ignoring any rows.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await rows(query)
    }

    /// The first column of the first row, or `nil` when there is no row.
    func one<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) async throws -> T? {
        guard let row = try await rows(query).first else { return nil }
        return try row.decode(T.self)
    }

    /// Runs `body` in a transaction at `isolation`, committing when it returns
    /// and rolling back when it throws.
    ///
    /// A failed `COMMIT` (a serialization failure, or a lost connection whose
    /// outcome is unknown) throws like any statement. It runs on its caller's
    /// isolation, so `body` need not be `Sendable`.
    nonisolated(nonsending) func transaction<T: Sendable>(
        isolation: String, _ body: (PostgresSQL) async throws -> T
    ) async throws -> T {
        try await execute(PostgresQuery(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation)"))
        let result: T
        do {
            result = try await body(self)
        } catch {
            // Best effort: on a broken connection the server rolls back by itself.
            try? await execute("ROLLBACK")
            throw error
        }
        try await execute("COMMIT")
        return result
    }
}

/// A statement was not sent, or not answered, because its connection had
/// closed; a write's outcome is then unknown.
package struct PostgresConnectionClosed: Error, CustomStringConvertible {
    package init() {}

    package var description: String {
        "the connection closed before the server answered (a restart, or a transaction left idle too long)"
    }
}
