import Foundation
import Logging
import RedMLCore
import RedMLPersistence
import ServiceLifecycle
import Synchronization

/// A pool of workers that claim jobs from an ``MLJobQueue`` and run them with
/// the handler registered for their kind.
///
/// A pool claims only jobs of the kinds it has handlers for; jobs of other
/// kinds in the queues it serves stay queued for pools that run them.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` owns every background
/// task (claim loops, lease renewals, the rescuer of expired leases) and
/// returns after a graceful shutdown. On shutdown it stops claiming, lets
/// running jobs finish within the grace period, then interrupts the rest:
/// they go back to the queue with their checkpoints, without using up an
/// attempt. Queued jobs stay queued in the store.
public final class MLJobWorkers: Service, Sendable {
    /// Runs one job and returns its metrics; throw to fail the attempt.
    public typealias Handler = @Sendable (MLJobHandle) async throws -> MLJSONObject

    /// Settings, each with a documented default.
    public struct Configuration: Sendable {
        /// Jobs of the `default` queue run at once. Default: the core count minus one, at least one.
        public var workerCount = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        /// Other named queues and how many of their jobs run at once, for example `["gpu": 1]`.
        public var queues: [String: Int] = [:]
        /// This worker's name in leases and history. Default: host, process id and a random suffix.
        public var workerID = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):"
            + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        /// How often a claim loop with free slots looks for jobs that nothing announced (submitted
        /// by other processes on SQLite, say), however busy it is. Default: 250 ms. Jobs submitted
        /// through the same ``MLJobQueue``, and on PostgreSQL through any, start at once.
        public var pollInterval: Duration = .milliseconds(250)
        /// How often a running job's lease is renewed. The lease lasts two
        /// intervals, so a renewal may be one interval late; an expired lease is
        /// requeued by any live process within about half an interval more. Default: 2 s.
        public var heartbeatInterval: Duration = .seconds(2)
        /// How often coalesced progress reaches the store, at most. Default: 200 ms.
        public var progressFlushInterval: Duration = .milliseconds(200)
        /// How long running jobs may take to finish after shutdown begins. Default: 10 s.
        ///
        /// An outcome still not written ``MLJobWorkers/outcomeWriteGrace`` after that,
        /// and after its handler returned (the store cannot be reached), is given
        /// up: the job's lease expires and another worker runs it again, without
        /// using up an attempt.
        public var gracePeriod: Duration = .seconds(10)
        /// The wait between a failed attempt and the next. Default: ``MLRetryBackoff/init(base:maximum:jitter:)``.
        public var backoff = MLRetryBackoff()
        /// On a store that claims natively (``MLClaimingStore``, PostgreSQL), a
        /// queue's slots are shared out among claim loops, one per 16 slots and at
        /// most this many, which claim at once (`SKIP LOCKED` keeps their jobs
        /// apart). Elsewhere concurrent claims would race for the same first
        /// jobs, so each queue has one loop, except on a store that answers at
        /// once (``MLImmediateStore``, the in-memory one): there each slot is a
        /// loop that claims one job at a time and runs it itself, so that a job
        /// stays on one task from its claim to its outcome. Default: 2 (every arrival wakes
        /// every loop, and since a PostgreSQL claim is one round trip two
        /// served 64 slots better than four: BENCHMARKS.md, 2026-11-30).
        public var claimLoopsPerQueue = 2

        /// The defaults.
        public init() {}

        var timing: JobTiming {
            let heartbeat = Self.milliseconds(heartbeatInterval)
            return JobTiming(heartbeatMs: heartbeat, leaseMs: heartbeat * 2,
                             progressFlushMs: Self.milliseconds(progressFlushInterval))
        }

        static func milliseconds(_ duration: Duration) -> Int64 {
            max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
    }

    struct Lifecycle {
        var handlers: [MLJob.Kind: Handler] = [:]
        /// The handlers' kinds, kept with them so a claim does not build the set each time.
        var kinds: Set<MLJob.Kind> = []
        /// When running jobs must stop, once shutdown began.
        var shutdownDeadlineMs: Int64?
        /// How to cancel each store call of the claim loops in flight (``cancelledAtShutdown(_:)``).
        var loopCalls: [Int: @Sendable () -> Void] = [:]
        var nextLoopCall = 0
        /// Whether the grace period ended and the loop calls were cancelled.
        var loopCallsCancelled = false
        /// Claim loops that have not returned yet; each returns once its jobs have all ended.
        var claimLoopsRunning = 0
        /// On an ``MLImmediateStore``: what wakes the idle loops of each queue, one at a time.
        var idleLoops: [String: Signal] = [:]
    }

    /// The queue the workers take jobs from.
    public let queue: MLJobQueue
    let configuration: Configuration
    let lifecycle = Mutex(Lifecycle())
    /// Wakes the maintenance loop early: at shutdown, and when this pool
    /// schedules a retry that must be promoted when its backoff ends.
    let maintenanceWake = Signal()
    /// Signalled when a job of this pool ends during shutdown.
    let jobEndedWhileStopping = Signal()
    /// Renews the leases of this pool's running jobs and stops their handlers when due.
    let keeper: LeaseKeeper

    /// How long after the grace period an outcome write may still wait for
    /// the store before it is given up: 5 s.
    public static let outcomeWriteGrace: Duration = .seconds(5)

    /// Creates workers for `queue`; register handlers, then call ``run()``.
    public init(queue: MLJobQueue, configuration: Configuration = Configuration()) {
        self.queue = queue
        self.configuration = configuration
        keeper = LeaseKeeper(clock: queue.clock, timing: configuration.timing)
    }

    /// Registers the handler for jobs of `kind` (replacing an earlier one).
    public func register(_ kind: MLJob.Kind, _ handler: @escaping Handler) {
        lifecycle.withLock { state in
            state.handlers[kind] = handler
            state.kinds.insert(kind)
        }
        queue.jobsArrived()  // jobs of this kind that are ready already are news to a running pool
    }

    /// Stops claiming jobs; running jobs get the grace period, then are interrupted.
    public func beginShutdown() {
        beginShutdown(graceMs: Configuration.milliseconds(configuration.gracePeriod))
    }

    /// Stops claiming jobs; running jobs get `graceMs`, then are interrupted.
    /// A shorter grace than a shutdown already under way has left takes its
    /// place (the workers' task cancelled during a graceful shutdown: now).
    private func beginShutdown(graceMs grace: Int64) {
        let deadline = queue.clock.nowMs + grace
        let (moved, first) = lifecycle.withLock { state -> (Bool, Bool) in
            if let current = state.shutdownDeadlineMs, current <= deadline { return (false, false) }
            defer { state.shutdownDeadlineMs = deadline }
            return (true, state.shutdownDeadlineMs == nil)
        }
        guard moved else { return }
        if first || grace == 0 {
            let message: Logger.Message = grace > 0
                ? "shutting down: no more claims; running jobs have the grace period to finish"
                : "the workers' task was cancelled: stopping now, with no grace period"
            queue.logger.info(message, metadata: ["grace_ms": "\(grace)", "running": "\(queue.running.count)"])
        }
        maintenanceWake.signal()
        queue.submitted.signal()
        for idle in lifecycle.withLock({ Array($0.idleLoops.values) }) { idle.signal() }
        keeper.wake.signal()  // the grace period's end is now due for every running job
        jobEndedWhileStopping.signal()  // the end of the grace period reads the new deadline
    }

    var isStopping: Bool { lifecycle.withLock { $0.shutdownDeadlineMs != nil } }
    var shutdownDeadline: Int64? { lifecycle.withLock { $0.shutdownDeadlineMs } }

    /// Runs the workers until graceful shutdown (or cancellation), then waits for running jobs.
    public func run() async throws {
        // Before the first claim: the leases this pool writes must be in the server's time.
        _ = try? await cancelledAtShutdown { await self.queue.alignClockLoggingFailure() }
        // Until every job has ended, cancellation or not: a handler that goes on running after it
        // was told to stop (cancelled with this task, or past the grace period) keeps its lease,
        // or another worker could start its job meanwhile. So the keeper runs in a task that this
        // one's cancellation does not reach, and is stopped once the claim loops and their jobs end.
        let keeping = Task { await self.keeper.run(shutdownDeadline: { self.shutdownDeadline }) }
        do {
            try await runLoops()
        } catch {
            keeping.cancel()
            await keeping.value
            throw error
        }
        keeping.cancel()
        await keeping.value
    }

    /// The claim loops (and their jobs), the maintenance loop and the end of the grace period.
    private func runLoops() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { wakeUps in
                if let claiming = queue.store as? any MLClaimingStore {
                    // Jobs submitted or requeued by other processes wake the claim loops at once
                    // (this queue's own submissions woke them when they committed).
                    let own = queue.readyTopic
                    wakeUps.addTask { try await claiming.listen { topic in if topic != own { self.queue.jobsArrived() } } }
                }
                try await withThrowingDiscardingTaskGroup { group in
                    var slots = configuration.queues
                    slots["default"] = slots["default"] ?? configuration.workerCount
                    let maximumLoops = queue.store is any MLClaimingStore ? configuration.claimLoopsPerQueue : 1
                    for (name, count) in slots where count > 0 {
                        // A few slots are better served by one loop that claims them together (measured:
                        // four loops over 8 slots drained slower, over 64 twice as fast). Where a claim
                        // waits for nothing, a loop per slot ran no-op jobs 1.3-1.5x faster (BENCHMARKS.md).
                        let shares = queue.immediate
                            ? Array(repeating: 1, count: count)
                            : Self.shares(of: count, among: min(maximumLoops, (count + 15) / 16))
                        let idle = queue.immediate ? Signal() : nil
                        if let idle {
                            lifecycle.withLock { $0.idleLoops[name] = idle }
                            group.addTask { await self.relayArrivals(to: idle) }
                        }
                        for share in shares {
                            lifecycle.withLock { $0.claimLoopsRunning += 1 }
                            group.addTask {
                                defer {
                                    self.lifecycle.withLock { $0.claimLoopsRunning -= 1 }
                                    self.jobEndedWhileStopping.signal()  // the end of the grace period may be waiting for it
                                }
                                try await self.claimLoop(queue: name, slots: share, idle: idle)
                            }
                        }
                    }
                    group.addTask {
                        // Maintenance carries nothing that must land: shutdown cancels it, so that a store
                        // that cannot be reached (PostgreSQL down) does not hold the shutdown.
                        await withDiscardingTaskGroup { maintenance in
                            maintenance.addTask { await self.maintenanceLoop() }
                            await self.untilShutdown()
                            maintenance.cancelAll()
                        }
                    }
                    group.addTask {
                        await self.untilShutdown()
                        // In a task of its own: when the workers' task is cancelled, it is what still gives
                        // up the outcomes a store out of reach does not take, so that run() ends.
                        let ending = Task { await self.endOfGrace() }
                        await withTaskCancellationHandler {
                            await ending.value
                        } onCancel: {
                            self.beginShutdown(graceMs: 0)  // cancelled: the grace period, if any, ends now
                        }
                    }
                }
                wakeUps.cancelAll()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
    }

    // MARK: Loops

    /// `slots` split as evenly as possible among at most `loops` loops, none empty.
    static func shares(of slots: Int, among loops: Int) -> [Int] {
        let count = max(1, min(loops, slots))
        return (0..<count).map { index in slots / count + (index < slots % count ? 1 : 0) }
    }

    private func maintenanceLoop() async {
        let interval = Duration.milliseconds(max(1, configuration.timing.heartbeatMs / 2))
        let alignmentIntervalMs = Configuration.milliseconds(MLJobQueue.clockAlignmentInterval)
        var nextAlignmentMs = queue.clock.nowMs + alignmentIntervalMs
        while true {
            let generation = maintenanceWake.generation  // before the check, so a shutdown signal is not missed
            guard !isStopping && !Task.isCancelled else { return }
            if queue.clock.nowMs >= nextAlignmentMs {
                await queue.alignClockLoggingFailure()
                nextAlignmentMs = queue.clock.nowMs + alignmentIntervalMs
            }
            var wait = interval
            do {
                // Come back when the next scheduled job is due, if that is sooner than the next pass.
                if let due = try await queue.promoteDueJobs().nextDueMs {
                    wait = min(wait, .milliseconds(max(1, due - queue.clock.nowMs)))
                }
            } catch {
                if !Task.isCancelled {  // cut short by shutdown: nothing to report
                    queue.logger.warning("promoting scheduled jobs failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            do {
                try await queue.rescueExpiredLeases()
            } catch {
                if !Task.isCancelled {  // cut short by shutdown: nothing to report
                    queue.logger.warning("rescuing expired leases failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            do {
                try await queue.reclaimJobSpace()
            } catch {
                if !Task.isCancelled {  // cut short by shutdown: nothing to report
                    queue.logger.warning("reclaiming the job table's space failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            await maintenanceWake.wait(since: generation, timeout: wait, clock: queue.clock)
        }
    }

    /// Claims jobs of queue `name` for `slots` slots and runs them, until shutdown.
    ///
    /// On an ``MLImmediateStore`` (`idle` given) a loop has one slot and runs
    /// each job on its own task: nothing to overlap with a claim that waits for
    /// nothing, and no hand-over to another task (a wake-up of another thread,
    /// often). Idle, it waits on `idle`, which wakes one loop per arrival; a
    /// loop that claimed a job wakes the next, in case there are more.
    private func claimLoop(queue name: String, slots: Int, idle: Signal?) async throws {
        let inline = idle != nil
        // Handlers running, and attempts whose handler returned while their outcome is being
        // written. A slot is free again when its handler returns: the write (a WAL flush on
        // PostgreSQL) no longer holds it up, so a few slots keep the disk busy with group
        // commits. As many such writes as there are slots may wait (more measured no faster);
        // more hold slots back.
        let active = ActiveCount()
        let recording = ActiveCount()
        let timing = configuration.timing
        let pollMs = Configuration.milliseconds(configuration.pollInterval)
        // The arrival count as of the last claim, when it found no more jobs: until jobs arrive
        // (or the poll interval passes, for what no signal announces), a slot that frees up
        // has nothing to claim.
        var nothingReadyAsOf: Int?
        var lastClaimMs = queue.clock.nowMs
        await withDiscardingTaskGroup { group in
            while true {
                let generation = idle?.generation ?? queue.submitted.generation  // before the checks, so no wake-up is missed
                guard !isStopping && !Task.isCancelled else { break }
                let free = slots - active.value - max(0, recording.value - slots)
                let arrived = queue.arrivalCount
                let now = queue.clock.nowMs
                // A clock set back counts as the poll interval passed.
                let pollDue = now - lastClaimMs >= pollMs || now < lastClaimMs
                // An idle loop is woken only when there may be something to claim.
                if free > 0 && (inline || nothingReadyAsOf != arrived || pollDue) {
                    lastClaimMs = now
                    nothingReadyAsOf = nil
                    do {
                        // Only kinds this pool runs: the rest stay queued for pools that run them.
                        let kinds = lifecycle.withLock { $0.kinds }
                        let workerID = configuration.workerID
                        let (claimed, exhausted) = try await cancelledAtShutdown {
                            try await self.queue.claimReporting(
                                queue: name, worker: workerID, leaseMs: timing.leaseMs, limit: free, kinds: kinds)
                        }
                        if let idle, !claimed.isEmpty, !exhausted { idle.signalOne() }
                        for (job, revision) in claimed {
                            if inline {
                                await execute(job, revision: revision) {}
                                continue
                            }
                            active.add(1)
                            group.addTask {
                                await self.execute(job, revision: revision) {
                                    recording.add(1)
                                    active.add(-1)
                                    self.queue.submitted.signal()  // a slot is free
                                }
                                // Writes pending beyond `slots` held slots back: one is free now.
                                if recording.add(-1) > slots { self.queue.submitted.signal() }
                            }
                        }
                        // Look again at once only if more may be ready; a job submitted since
                        // the claim began has moved `generation` on, so the wait below returns at once.
                        if !exhausted { continue }
                        nothingReadyAsOf = arrived
                    } catch {
                        guard !isStopping else { break }  // cut short by shutdown: nothing to report
                        queue.logger.warning("claiming failed; retrying", metadata: ["queue": "\(name)", "error": "\(error)"])
                    }
                }
                // With a slot free, until the next poll is due (not a full interval from every wake-up
                // that claimed nothing). With none, until one frees up, which signals: without a
                // timeout the wait needs no tasks of its own, and it happens about once per job.
                if free > 0 {
                    let untilPoll = max(1, min(pollMs, lastClaimMs + pollMs - queue.clock.nowMs))
                    await (idle ?? queue.submitted).wait(since: generation, timeout: .milliseconds(untilPoll), clock: queue.clock)
                } else {
                    await queue.submitted.waitForSignal(since: generation)
                }
            }
        }
    }

    /// Wakes one idle loop of a queue on an ``MLImmediateStore`` whenever
    /// jobs may have arrived, until shutdown (which wakes them all). Only this
    /// task waits on the queue's own signal, which wakes every waiter: a
    /// submission wakes one loop, not every idle one, which would each claim.
    private func relayArrivals(to idle: Signal) async {
        while true {
            let generation = queue.submitted.generation
            guard !isStopping && !Task.isCancelled else { return }
            idle.signalOne()
            await queue.submitted.waitForSignal(since: generation)
        }
    }

    /// Returns once shutdown has begun (or the task is cancelled).
    private func untilShutdown() async {
        while !Task.isCancelled {
            let generation = maintenanceWake.generation
            guard !isStopping else { return }
            await maintenanceWake.waitForSignal(since: generation)
        }
    }

    /// After shutdown began: when the grace period ends, cancels the claim
    /// loops' store calls (the ``LeaseKeeper`` interrupts the handlers still
    /// running, without waiting for the store). A job whose
    /// handler has returned gets ``outcomeWriteGrace`` more, from the later of
    /// the two, for its outcome; then its store calls are given up
    /// (``JobRun/abandonStoreCalls()``). A handler still running keeps its
    /// lease renewed. Returns once the pool's jobs and claims have all ended.
    ///
    /// The deadline is read on every pass: cancelling the workers' task during
    /// a graceful shutdown brings it forward to that moment.
    private func endOfGrace() async {
        // Reached without a shutdown only when the workers' task was cancelled: the handlers are
        // cancelled with it, so there is no grace period to give.
        if shutdownDeadline == nil { beginShutdown(graceMs: 0) }
        let outcomeGraceMs = Configuration.milliseconds(Self.outcomeWriteGrace)
        let worker = configuration.workerID
        var graceOver = false
        while !Task.isCancelled {
            let generation = jobEndedWhileStopping.generation
            guard let graceEnd = shutdownDeadline else { return }
            let now = queue.clock.nowMs
            if now >= graceEnd && !graceOver {
                graceOver = true
                let loopCalls = lifecycle.withLock { state -> [@Sendable () -> Void] in
                    state.loopCallsCancelled = true
                    defer { state.loopCalls.removeAll() }
                    return Array(state.loopCalls.values)
                }
                for cancel in loopCalls { cancel() }
            }
            // Until the claim loops have returned, which they do once their claims and jobs have all
            // ended: a claim that has just returned may not have started its jobs yet, and their
            // outcomes may need giving up too.
            guard lifecycle.withLock({ $0.claimLoopsRunning > 0 }) else { return }
            let runs = queue.running.runs(heldBy: worker)
            var nextCheck: Int64? = graceOver ? nil : graceEnd
            var givenUp = 0
            for run in runs where !run.storeCallsAbandoned {
                guard let returned = run.handlerReturnedAtMs else { continue }
                let giveUpAt = max(graceEnd, returned) + outcomeGraceMs
                if now >= giveUpAt {
                    run.abandonStoreCalls()
                    givenUp += 1
                } else {
                    nextCheck = min(nextCheck ?? giveUpAt, giveUpAt)
                }
            }
            if givenUp > 0 {
                queue.logger.warning("giving up outcomes the store did not take in time; those jobs will run again",
                                     metadata: ["jobs": "\(givenUp)"])
            }
            if let nextCheck {
                await jobEndedWhileStopping.wait(since: generation, timeout: .milliseconds(max(1, nextCheck - now)), clock: queue.clock)
            } else {
                await jobEndedWhileStopping.waitForSignal(since: generation)
            }
        }
    }

    /// Runs `operation`, a store call of the claim loops, so that the end of
    /// the grace period cancels it. None of them carries anything that must
    /// land (a claim cut short leaves its jobs to the rescue of expired
    /// leases), and a store that cannot be reached (PostgreSQL down) would
    /// otherwise hold the shutdown until it came back. Not sooner: a claim
    /// cancelled after the store committed it would strand its jobs until
    /// their leases expire.
    private func cancelledAtShutdown<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        if queue.immediate { return try await operation() }  // it cannot wait for a store out of reach
        let task = Task { try await operation() }
        let call = lifecycle.withLock { state -> Int? in
            guard !state.loopCallsCancelled else { return nil }
            state.nextLoopCall += 1
            state.loopCalls[state.nextLoopCall] = { task.cancel() }
            return state.nextLoopCall
        }
        if call == nil { task.cancel() }
        defer {
            if let call { lifecycle.withLock { _ = $0.loopCalls.removeValue(forKey: call) } }
        }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}

/// How many jobs a claim loop is running (or recording).
private final class ActiveCount: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    /// Adds `delta`; returns the count before.
    @discardableResult
    func add(_ delta: Int) -> Int {
        count.withLock { count in
            defer { count += delta }
            return count
        }
    }
}
