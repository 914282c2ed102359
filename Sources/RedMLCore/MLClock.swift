import Foundation
import Synchronization

/// Wall-clock time for leases, retries, schedules and timestamps, injectable
/// so that tests move time by hand instead of sleeping.
///
/// Leases are shared between processes, so RedML needs wall time (epoch
/// milliseconds) rather than a monotonic instant; a Swift `Clock`'s instants
/// cannot be compared across processes.
public protocol MLClock: Sendable {
    /// Milliseconds since 1970-01-01 UTC.
    var nowMs: Int64 { get }
    /// Suspends for `duration` of this clock's time; throws `CancellationError` if cancelled.
    func sleep(for duration: Duration) async throws
}

/// The system's wall clock.
public struct MLSystemClock: MLClock {
    /// The system clock.
    public init() {}

    public var nowMs: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// A clock that only moves when told to, for tests of leases, backoff and timeouts.
///
/// Sleepers wake when ``advance(by:)`` moves the time past their deadline, in
/// deadline order.
public final class MLManualClock: MLClock {
    private struct Sleeper {
        let id: Int
        let deadline: Int64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var nowMs: Int64
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    /// A clock that reads `nowMs` until advanced.
    public init(nowMs: Int64 = 1_800_000_000_000) {
        state = Mutex(State(nowMs: nowMs))
    }

    public var nowMs: Int64 { state.withLock { $0.nowMs } }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(for duration: Duration) async throws {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    let deadline = state.nowMs + max(0, milliseconds)
                    if deadline <= state.nowMs { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow {
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        continuation.resume()
                    }
                }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let due = state.withLock { state -> [Sleeper] in
            state.nowMs += milliseconds
            let now = state.nowMs
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
