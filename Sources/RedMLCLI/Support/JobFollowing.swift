import RedML

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
