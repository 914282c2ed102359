import Foundation
import RedML
import UnixSignals

/// Follows a job until it is terminal, drawing its progress.
enum JobFollowing {
    /// Reads the job every `interval` and updates `display` until the job is
    /// terminal; returns the final record. Polled rather than followed through
    /// `updates(of:)`, so a terminal's bar also redraws while nothing changes,
    /// keeping elapsed time and the ETA live.
    static func follow(
        _ id: UInt128, in queue: MLJobQueue, display: ProgressDisplay?, interval: Duration = .milliseconds(250)
    ) async throws -> MLJob {
        var job = try await queue.requireJob(id)
        display?.start("\(job.kind.rawValue) \(job.target)")
        while true {
            display?.update(progress: job.progress, status: JobText.status(of: job))
            if job.status.isTerminal { return job }
            try await Task.sleep(for: interval)
            job = try await queue.requireJob(id)
        }
    }

    /// Follows like ``follow(_:in:display:interval:)`` a job that this process
    /// runs (`train --wait`, `demo`). SIGINT or SIGTERM meanwhile cancels the
    /// job: its handler stops at its next checkpoint and the job ends
    /// `cancelled`, instead of staying `running` under a lease no one renews
    /// until another process requeues it and runs what the user stopped. A
    /// second signal ends the process at once.
    ///
    /// - Parameter interrupts: signals trapped before the job could start (see
    ///   ``trapInterrupts()``), so none arrives untrapped and kills the process.
    static func followCancellingOnInterrupt(
        _ id: UInt128, in queue: MLJobQueue, display: ProgressDisplay?, interval: Duration = .milliseconds(250),
        interrupts: UnixSignalsSequence
    ) async throws -> MLJob {
        // The cancel runs in a task of its own: a slow store must not keep a second interrupt waiting.
        let (cancels, cancel) = AsyncStream.makeStream(of: Void.self)
        return try await withThrowingTaskGroup(of: MLJob?.self) { group in
            group.addTask { try await follow(id, in: queue, display: display, interval: interval) }
            group.addTask {
                for await _ in cancels { _ = try? await queue.cancel(id) }
                return nil
            }
            group.addTask {
                var count = 0
                for await signal in interrupts {
                    count += 1
                    guard count == 1 else { exit(signal == .sigint ? 130 : 143) }
                    Console.error("interrupted: cancelling job \(MLKey.job(id)); interrupt again to quit at once")
                    cancel.yield()
                }
                return nil
            }
            while let next = try await group.next() {
                guard let job = next else { continue }
                group.cancelAll()
                return job
            }
            throw CancellationError()
        }
    }

    /// Traps SIGINT and SIGTERM for ``followCancellingOnInterrupt(_:in:display:interval:interrupts:)``;
    /// call it before the job is submitted.
    static func trapInterrupts() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sigint, .sigterm)
    }

    /// Finishes the display by the job's final status; throws unless it completed.
    static func requireCompleted(_ job: MLJob, display: ProgressDisplay?) throws {
        switch job.status {
        case .completed:
            display?.finish("completed")
        case .failed:
            display?.finish("failed")
            throw CLIError(
                "job \(job.key) failed after \(job.attempt) attempt\(job.attempt == 1 ? "" : "s"): "
                    + (job.error ?? "no error recorded") + "; see `redml jobs history \(job.key)`")
        default:
            display?.finish(job.status.rawValue)
            throw CLIError("job \(job.key) was \(job.status.rawValue) before it completed")
        }
    }
}
