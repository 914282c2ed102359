import Foundation
import RedMLCore
import RedMLPersistence
import Synchronization

// Running one job: its handler, watched by the pool's lease keeper, and the outcome written.
extension MLJobWorkers {
    /// What a handler did: returned metrics, or threw.
    enum Outcome: Sendable {
        case returned(MLJSONObject)
        case threw(any Error)
    }

    /// Runs `job` and records its outcome; `handlerReturned` is called once,
    /// when the handler has returned (or there is none), before the outcome is written.
    func execute(_ job: MLJob, revision: MLRevision, handlerReturned: () -> Void) async {
        let run = JobRun(job: job, revision: revision, queue: queue, timing: configuration.timing, keeperWake: keeper.wake)
        queue.running.add(run)
        defer {
            queue.running.remove(run)
            if isStopping { jobEndedWhileStopping.signal() }
        }
        guard let handler = lifecycle.withLock({ $0.handlers[job.kind] }) else {
            handlerReturned()
            run.handlerReturned(atMs: queue.clock.nowMs)
            // Claims take only kinds with a handler, and handlers are never removed: unreachable
            // unless that changes, and then a failed attempt is the honest outcome.
            let ended = await finish(
                run, .threw(MLJobFailure("no handler is registered for kind '\(job.kind)' in worker \(configuration.workerID)")),
                stop: nil)
            queue.metrics.attemptEnded(job, outcome: ended, durationNanoseconds: 0)
            return
        }
        let handle = MLJobHandle(job: job, run: run)
        let startedAt = queue.clock.nowMs
        let started = ContinuousClock.now
        var (outcome, stop) = await supervise(handler, handle, run: run, startedAt: startedAt)
        handlerReturned()
        if stop == nil, Task.isCancelled {
            // The workers' own task was cancelled (shutdown escalated), which cancelled the handler
            // before the keeper stopped it as the end of the grace period does: whatever it returned
            // or threw is partial work, an interruption, not a completion or a failure.
            stop = .interrupted
        }
        let ended = await finish(run, outcome, stop: stop)
        let elapsed = (ContinuousClock.now - started).components
        queue.metrics.attemptEnded(job, outcome: ended,
                                  durationNanoseconds: elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    /// Runs the handler while the pool's ``LeaseKeeper`` looks after its
    /// lease. A stop (cancel, timeout, shutdown, lost lease) cancels the
    /// handler; the keeper goes on renewing the lease until the handler has
    /// returned, so no other worker can start the job while this one still runs it.
    private func supervise(
        _ handler: @escaping Handler, _ handle: MLJobHandle, run: JobRun, startedAt: Int64
    ) async -> (Outcome, StopReason?) {
        let stop = FirstStop()
        // The handler runs in a task of its own so that a stop can cancel it alone. It is
        // awaited before this returns, and cancelling this task cancels the handler.
        let handlerTask = Task {
            let outcome = await Self.invoke(handler, handle)
            // A deadline the keeper reaches after this point did not stop the handler, and
            // must not turn what it returned into a timeout or an interruption.
            stop.close()
            return outcome
        }
        run.handlerStarted { reason in
            if stop.record(reason) { handlerTask.cancel() }
        }
        keeper.watch(run, startedAtMs: startedAt, shutdownDeadlineMs: shutdownDeadline)
        let outcome = await withTaskCancellationHandler {
            await handlerTask.value
        } onCancel: {
            handlerTask.cancel()
        }
        // Before waiting for a renewal in flight, which may be waiting for the store: the
        // outcome's own grace at shutdown starts now, and giving up its store calls ends the renewal.
        run.handlerReturned(atMs: queue.clock.nowMs)
        if isStopping { jobEndedWhileStopping.signal() }
        await keeper.release(run)
        return (outcome, stop.reason)
    }

    private static func invoke(_ handler: Handler, _ handle: MLJobHandle) async -> Outcome {
        do {
            return .returned(try await handler(handle))
        } catch {
            return .threw(error)
        }
    }

    /// Records how the attempt ended; returns the outcome's name for metrics.
    @discardableResult
    private func finish(_ run: JobRun, _ outcome: Outcome, stop: StopReason?) async -> String {
        let job = run.latest
        let logger = queue.logger
        do {
            // Set whether the keeper's renewal or the handler's own write (a checkpoint) found out first.
            if run.isLost {
                logger.warning("lost the lease; the job's result is dropped", metadata: ["job_id": "\(job.key)"])
                return "lease_lost"
            }
            let cancelAsked: Bool
            if case .cancelRequested? = stop { cancelAsked = true } else { cancelAsked = run.cancelRequested }
            if case .interrupted? = stop, !cancelAsked {
                // Shutdown stopped the handler: whatever it returned is partial work, so the
                // job goes back to the queue (with its checkpoint) without using up an attempt.
                // A cancel stored since the run last looked ends the job instead.
                let written = try await run.write(reason: "interrupted", detail: "the workers shut down") { job, now in
                    job.release(to: job.cancelRequested ? .cancelled : .queued, at: now)
                }
                // Ready again: other pools (and, on PostgreSQL, processes) need not wait for their poll.
                if written.status == .queued { try? await queue.announceReadyJobs() }
                return written.status == .cancelled ? "cancelled" : "interrupted"
            } else if case .returned(let metrics) = outcome, cancelAsked {
                // The handler stopped because it was asked to: cancelled, keeping what it reported.
                try await cancelled(run, metrics: metrics)
                return "cancelled"
            } else if case .timedOut? = stop, !cancelAsked {
                // The timeout stopped the handler: whatever it returned or threw after that is
                // partial work, and the attempt counts as a failure (a cancel takes precedence).
                return try await fail(run, message: "timed out after \(job.timeoutMs ?? 0) ms", retryable: true,
                                      reason: "timed_out")
            } else if case .returned(let metrics) = outcome {
                try await run.write(reason: "completed") { job, now in
                    job.release(to: .completed, at: now)
                    job.metrics = metrics
                    job.progress = 100
                    job.error = nil  // an earlier attempt's failure; the history keeps it
                }
                return "completed"
            } else if cancelAsked {
                try await cancelled(run, metrics: nil)
                return "cancelled"
            } else if case .threw(let error) = outcome {
                return try await fail(run, message: describe(error),
                                      retryable: (error as? MLJobFailure)?.retryable ?? true, reason: "failed")
            }
            return "unknown"
        } catch {
            logger.error("could not record the job's outcome; its lease will expire and it will be retried",
                         metadata: ["job_id": "\(job.key)", "error": "\(error)"])
            return "unrecorded"
        }
    }

    private func cancelled(_ run: JobRun, metrics: MLJSONObject?) async throws {
        try await run.write(reason: "cancelled") { job, now in
            job.release(to: .cancelled, at: now)
            job.metrics = metrics ?? job.metrics
        }
    }

    /// Records a failed attempt; returns `retried`, `failed` or `cancelled`.
    private func fail(_ run: JobRun, message: String, retryable: Bool, reason: String) async throws -> String {
        let backoff = configuration.backoff
        let written = try await run.write(reason: reason, detail: message) { job, now in
            job.failures += 1
            job.error = message
            if job.cancelRequested {
                // A cancel stored after the run last looked (seen on a write conflict): the
                // failure is recorded, but the job is not retried against the operator's wish.
                job.release(to: .cancelled, at: now)
            } else if retryable && job.failures < job.maxAttempts {
                job.release(to: .queued, at: now + backoff.delayMs(afterFailures: job.failures))
            } else {
                job.release(to: .failed, at: now)
            }
        }
        // A failure is news to whoever runs the workers, whether or not the job gets another attempt.
        queue.logger.warning("a job's attempt failed", metadata: [
            "job_id": "\(written.key)", "kind": "\(written.kind)", "attempt": "\(written.attempt)",
            "error": "\(message)",
            "then": "\(written.status == .queued ? "retried at \(Date(timeIntervalSince1970: Double(written.runAtMs) / 1000))" : written.status.rawValue)",
        ])
        guard written.status == .queued else { return written.status == .cancelled ? "cancelled" : "failed" }
        maintenanceWake.signal()  // so that the retry is promoted when its backoff ends, not at the next pass
        if written.runAtMs <= written.updatedAtMs { try? await queue.announceReadyJobs() }  // no backoff: ready now
        return "retried"
    }

    private func describe(_ error: any Error) -> String {
        if let failure = error as? MLJobFailure { return failure.message }
        if error is CancellationError { return "cancelled" }
        return String(describing: error)
    }
}

/// The first reason a running job was told to stop, while its handler runs.
private final class FirstStop: Sendable {
    private struct State {
        var first: StopReason?
        var closed = false
    }

    private let state = Mutex(State())

    /// Records `reason` if it is the first and the handler has not returned; returns whether it was.
    func record(_ reason: StopReason) -> Bool {
        state.withLock { state in
            guard state.first == nil, !state.closed else { return false }
            state.first = reason
            return true
        }
    }

    /// The handler has returned: later reasons are ignored.
    func close() { state.withLock { $0.closed = true } }

    var reason: StopReason? { state.withLock { $0.first } }
}
