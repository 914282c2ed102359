import ArgumentParser
import RedML

/// `redml jobs list`: the newest jobs, filtered.
struct JobsListCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List jobs, newest first.",
        discussion: "--json prints {\"jobs\": [job records]}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// Only this status.
    @Option(help: ArgumentHelp("Only jobs with this status: queued, running, completed, failed or cancelled.", valueName: "status"))
    var status: String?

    /// Only this kind.
    @Option(help: ArgumentHelp("Only jobs of this kind.", valueName: "kind"))
    var kind: String?

    /// Only this queue.
    @Option(help: ArgumentHelp("Only jobs in this queue.", valueName: "name"))
    var queue: String?

    /// At most this many.
    @Option(parsing: .unconditional, help: ArgumentHelp("At most this many jobs, 1…100000.", valueName: "n"))
    var limit = 50

    private struct Result: Encodable {
        var jobs: [MLJob]
        /// Records that could not be read, named; absent when there are none.
        var skipped: [String]?
    }

    /// Checks the options before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        guard (1...100_000).contains(limit) else {
            throw ValidationError("--limit must be 1…100000, got \(limit)")
        }
    }

    /// Lists the jobs.
    func run() async throws {
        let wantedStatus = try status.map { try JobText.status($0) }
        let (jobs, unreadable) = try await options.withQueue(create: false) { jobQueue in
            try await ReadAll.jobs(
                jobQueue, MLJobQuery(status: wantedStatus, kind: kind.map { MLJob.Kind(rawValue: $0) }, queue: queue),
                limit: limit)
        }
        let skipped = SkippedRecords.report(unreadable)
        if options.json {
            try Console.json(Result(jobs: jobs, skipped: skipped.isEmpty ? nil : skipped))
            return
        }
        var table = TextTable("ID", "KIND", "TARGET", "STATUS", "PROGRESS", "QUEUE", "PRIORITY", "CREATED")
        for job in jobs {
            table.add(
                job.key, job.kind.rawValue, job.target, JobText.status(of: job), DisplayText.percent(job.progress),
                job.queue, "\(job.priority)", DisplayText.time(job.createdAtMs))
        }
        table.print(empty: "no jobs" + (wantedStatus == nil && kind == nil && queue == nil ? "" : " match the filters"))
    }
}
