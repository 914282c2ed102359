import NIOCore
import PostgresNIO
import RedMLCore
import Synchronization

/// Ends the statements that PostgresNIO would leave waiting for ever when
/// their connection closes.
///
/// PostgresNIO 1.33 writes a query to its channel without a promise for the
/// write. A query written in the instant the channel closes (the server
/// crashed, or ended a session left idle in a transaction) is dropped by the
/// channel and never answered, so its caller waits for ever (vapor/postgres-nio
/// #487 fixed that and #501 reverted it). Seen here: a worker whose write was
/// in flight when PostgreSQL crashed never finished that job, and never exited.
///
/// The watch keeps each connection's statements in flight. When the
/// connection closes, the ones still waiting after ``grace`` fail with
/// ``PostgresConnectionClosed``: an outcome unknown, as for any statement cut
/// off by a lost connection. PostgresNIO fails the statements it knows about
/// at once, with its own error, well within the grace.
package final class ClosedConnectionWatch: Sendable {
    private struct Watched {
        /// How to fail each statement in flight, by its number.
        var inFlight: [UInt64: @Sendable (any Error) -> Void] = [:]
        var closed = false
    }

    private struct State {
        var nextStatement: UInt64 = 0
        /// By connection id (unique within a client; a closed connection's id is never reused).
        var connections: [Int: Watched] = [:]
    }

    private let state = Mutex(State())
    /// How long after its connection closed a statement may still get its own answer. Default: 1 s.
    package let grace: TimeAmount

    package init(grace: TimeAmount = .seconds(1)) {
        self.grace = grace
    }

    /// Runs `operation`, which uses `connection`, and fails it with
    /// ``PostgresConnectionClosed`` if the connection closes and it has not
    /// ended ``grace`` later (its task is left to end by itself, if ever).
    package func run<T: Sendable>(
        on connection: PostgresConnection, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let call = AbandonableCall<T>(propagatesCancellation: true)
        guard let statement = track(connection, fail: { call.abandon(with: $0) }) else {
            throw PostgresConnectionClosed()
        }
        defer { untrack(connection.id, statement) }
        return try await call.run(operation)
    }

    /// How many statements the watch holds, for tests.
    package var inFlightCount: Int { state.withLock { $0.connections.values.reduce(0) { $0 + $1.inFlight.count } } }

    /// Records a statement on `connection`; `nil` when it is known to be closed.
    private func track(_ connection: PostgresConnection, fail: @escaping @Sendable (any Error) -> Void) -> UInt64? {
        let (statement, firstOnConnection) = state.withLock { state -> (UInt64?, Bool) in
            let known = state.connections[connection.id]
            if known?.closed == true { return (nil, false) }
            state.nextStatement += 1
            state.connections[connection.id, default: Watched()].inFlight[state.nextStatement] = fail
            return (state.nextStatement, known == nil)
        }
        // One callback per connection, not per statement: a future's callbacks stay until it completes.
        if firstOnConnection {
            connection.closeFuture.whenComplete { _ in self.closed(connection) }
        }
        return statement
    }

    private func untrack(_ connectionID: Int, _ statement: UInt64) {
        state.withLock { _ = $0.connections[connectionID]?.inFlight.removeValue(forKey: statement) }
    }

    private func closed(_ connection: PostgresConnection) {
        state.withLock { $0.connections[connection.id]?.closed = true }
        connection.eventLoop.scheduleTask(in: grace) {
            let stranded = self.state.withLock { $0.connections.removeValue(forKey: connection.id) }
            for fail in stranded.map({ Array($0.inFlight.values) }) ?? [] {
                fail(PostgresConnectionClosed())
            }
        }
    }
}
