import Synchronization

/// A call run in a task of its own, whose caller can be answered before
/// the task ends: by the task's result, or by ``abandon(with:)``, whichever
/// comes first. An abandoned task is cancelled and left to end by itself.
///
/// For calls that may wait for ever on something outside (a statement
/// PostgresNIO never answers, a store that cannot be reached at shutdown).
package final class AbandonableCall<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var task: Task<Void, Never>?
        /// Set by an abandon before ``run(_:)`` began.
        var abandonedWith: (any Error)?
        var answered = false
        /// The caller's task was cancelled (and cancellation propagates).
        var cancelled = false
    }

    private let state = Mutex(State())
    private let propagatesCancellation: Bool

    /// A call whose task the caller's cancellation reaches, or (`false`) not:
    /// for writes that must land even when the caller's task was cancelled.
    package init(propagatesCancellation: Bool) {
        self.propagatesCancellation = propagatesCancellation
    }

    /// Runs `operation` in a task and returns its result, or throws the
    /// error of an abandon that came first (at once, even before the task ends).
    package func run(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard propagatesCancellation else { return try await answer(operation) }
        return try await withTaskCancellationHandler {
            try await answer(operation)
        } onCancel: {
            state.withLock { state in
                state.cancelled = true
                return state.task
            }?.cancel()
        }
    }

    /// Answers the caller with `error` unless it was answered already, and cancels the task.
    package func abandon(with error: any Error) {
        let (continuation, task) = state.withLock { state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            guard !state.answered else { return (nil, state.task) }
            state.answered = true
            state.abandonedWith = error
            defer { state.continuation = nil }
            return (state.continuation, state.task)
        }
        task?.cancel()
        continuation?.resume(throwing: error)
    }

    private func answer(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            if let error = state.withLock({ state -> (any Error)? in
                if state.abandonedWith == nil { state.continuation = continuation }
                return state.abandonedWith
            }) {
                continuation.resume(throwing: error)
                return
            }
            let task = Task {
                let result: Result<T, any Error>
                do {
                    result = .success(try await operation())
                } catch {
                    result = .failure(error)
                }
                self.resume(with: result)
            }
            // Abandoned (or cancelled) before the task existed: it must not run on unwatched.
            if state.withLock({ state in state.task = task; return state.answered || state.cancelled }) { task.cancel() }
        }
    }

    private func resume(with result: Result<T, any Error>) {
        state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.answered else { return nil }
            state.answered = true
            defer { state.continuation = nil }
            return state.continuation
        }?.resume(with: result)
    }
}
