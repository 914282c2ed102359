import RedML

/// How jobs read in the text output.
enum JobText {
    /// Parses `--status`.
    ///
    /// - Throws: ``CLIError`` listing the statuses.
    static func status(_ text: String) throws -> MLJob.Status {
        let statuses = MLJob.Status.listingFilters
        guard let status = statuses.first(where: { $0.rawValue == text.lowercased() }) else {
            throw CLIError.invalidArgument(
                "unknown status '\(DisplayText.oneLine(String(text.prefix(40))))' for --status; use one of "
                    + statuses.map(\.rawValue).joined(separator: ", "))
        }
        return status
    }

    /// `running (cancel requested)`, `queued (attempt 2 of 3)`.
    static func status(of job: MLJob) -> String {
        var notes: [String] = []
        if job.cancelRequested && !job.status.isTerminal { notes.append("cancel requested") }
        if job.attempt > 1 && !job.status.isTerminal { notes.append("attempt \(job.attempt) of \(job.maxAttempts)") }
        return job.status.rawValue + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
    }
}
