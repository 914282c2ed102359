import RedMLCore
import Synchronization

/// A wake-up call with generations, so that no wake-up is lost.
///
/// A waiter reads ``generation`` before it checks whatever it waits for,
/// then calls ``wait(since:timeout:clock:)``: if ``signal()`` was called in
/// between, the wait returns at once. ``signal()`` wakes every waiter,
/// ``signalOne()`` the one that has waited longest.
final class Signal: Sendable {
    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// The number of signals so far.
    var generation: Int { state.withLock { $0.generation } }

    /// Wakes every waiter, and every later wait that started from an older generation.
    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Wakes the waiter that has waited longest, and every later wait that
    /// started from an older generation; the other waiters go on waiting.
    func signalOne() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.generation += 1
            guard let oldest = state.waiters.keys.min() else { return nil }
            return state.waiters.removeValue(forKey: oldest)
        }
        waiter?.resume()
    }

    /// Waits until a signal newer than `generation` or `timeout`, whichever is first.
    func wait(since generation: Int, timeout: Duration, clock: any MLClock) async {
        guard self.generation == generation else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(for: timeout) }
            group.addTask { await self.waitForSignal(since: generation) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Waits until a signal newer than `generation`, or cancellation.
    func waitForSignal(since generation: Int) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
