import NIOCore
import PostgresNIO
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
        let task = CancellableTask()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let answer = Answer(continuation)
                guard let statement = track(connection, fail: { answer.resume(with: .failure($0)) }) else {
                    answer.resume(with: .failure(PostgresConnectionClosed()))
                    return
                }
                task.set(Task {
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await operation())
                    } catch {
                        result = .failure(error)
                    }
                    self.untrack(connection.id, statement)
                    answer.resume(with: result)
                })
            }
        } onCancel: {
            task.cancel()
        }
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

/// A continuation resumed by whichever answer comes first.
private final class Answer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(with result: Result<T, any Error>) {
        continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }?.resume(with: result)
    }
}

/// A task that a cancellation may reach before it is made.
private final class CancellableTask: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    func set(_ task: Task<Void, Never>) {
        if state.withLock({ state in state.task = task; return state.cancelled }) { task.cancel() }
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            return state.task
        }?.cancel()
    }
}
