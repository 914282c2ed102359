/// A background task that can be stopped with a limit on the wait for its end.
///
/// `await task.value` cannot be given up on: it waits however long the task
/// runs, even when the waiter is cancelled, and so does leaving a task group
/// whose child will not end. This task signals its end through a stream
/// instead, which a waiter can stop reading when its time is up.
struct BoundedTask: Sendable {
    private let task: Task<Void, Never>
    private let ended: AsyncStream<Void>

    /// Starts `operation` in a task of its own.
    init(_ operation: @escaping @Sendable () async -> Void) {
        let (ended, continuation) = AsyncStream<Void>.makeStream()
        self.ended = ended
        task = Task {
            await operation()
            continuation.finish()
        }
    }

    /// Cancels the task and waits for it to end, at most `limit`.
    ///
    /// - Returns: whether it ended in time. If not, it is left running. A
    ///   caller that is itself cancelled does not wait.
    func stop(waitingAtMost limit: Duration) async -> Bool {
        task.cancel()
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in ended {}  // returns when the task ends, or when this child is cancelled
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Cancels the task without waiting.
    func cancel() {
        task.cancel()
    }
}
