import RedMLCore
import Synchronization

/// Looks after the leases of one worker pool's running jobs: renews each
/// lease (writing the job's coalesced progress with it) every heartbeat, and
/// tells a handler to stop when its job is cancelled, times out, outlives the
/// shutdown grace period or loses its lease.
///
/// One loop serves every job of the pool. A loop per job cost a task, and two
/// more and a timer for each of its waits, for every job, however short.
/// Starting a job does not wake the loop unless the job needs it before the
/// loop's next planned pass, which is never more than a progress flush
/// interval away while jobs run.
final class LeaseKeeper: Sendable {
    private struct State {
        var runs: [ObjectIdentifier: JobRun] = [:]
        /// When the loop's current wait ends, while it waits; `nil` while it looks at the runs.
        var plannedWakeMs: Int64?
    }

    private let state = Mutex(State())
    /// Wakes the loop: a run needs it sooner than planned.
    let wake = Signal()
    private let clock: any MLClock
    private let progressFlushMs: Int64

    init(clock: any MLClock, timing: JobTiming) {
        self.clock = clock
        progressFlushMs = timing.progressFlushMs
    }

    /// Starts looking after `run`, whose handler started at `startedAtMs`;
    /// `shutdownDeadlineMs` is when running jobs must stop, if shutdown began.
    func watch(_ run: JobRun, startedAtMs: Int64, shutdownDeadlineMs: Int64?) {
        let due = min(run.startWatching(startedAtMs: startedAtMs), shutdownDeadlineMs ?? .max)
        let planned = state.withLock { state -> Int64? in
            state.runs[ObjectIdentifier(run)] = run
            return state.plannedWakeMs
        }
        // A loop looking at the runs right now (`nil`) may have passed this one by.
        if planned.map({ due < $0 }) ?? true { wake.signal() }
    }

    /// Stops looking after `run` (its handler returned); returns once a
    /// renewal in flight has ended.
    func release(_ run: JobRun) async {
        run.stopWatching()
        _ = state.withLock { $0.runs.removeValue(forKey: ObjectIdentifier(run)) }
        await run.renewalSettled()
    }

    /// Runs the loop until cancelled; renewals run beside it, one task each.
    /// `shutdownDeadline` is when running jobs must stop, once shutdown began.
    func run(shutdownDeadline: @Sendable () -> Int64?) async {
        await withDiscardingTaskGroup { renewals in
            while !Task.isCancelled {
                let generation = wake.generation  // before looking, so no wake-up is missed
                let runs = state.withLock { state in
                    state.plannedWakeMs = nil
                    return Array(state.runs.values)
                }
                let now = clock.nowMs
                let shutdownAt = shutdownDeadline()
                // While jobs run, at least every flush interval: their progress is not announced.
                var next: Int64? = runs.isEmpty ? nil : now + progressFlushMs
                for run in runs {
                    let step = run.watchStep(nowMs: now, shutdownAtMs: shutdownAt)
                    if let reason = step.stop { run.stop(reason) }
                    if step.renew { renewals.addTask { await run.keeperRenew() } }
                    if let due = step.nextMs { next = min(next ?? due, due) }
                }
                state.withLock { $0.plannedWakeMs = next ?? .max }
                if let next {
                    await wake.wait(since: generation, timeout: .milliseconds(max(1, next - now)), clock: clock)
                } else {
                    await wake.waitForSignal(since: generation)
                }
            }
        }
    }
}
