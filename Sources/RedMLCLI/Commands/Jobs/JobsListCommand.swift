import ArgumentParser
import RedML

/// `redml jobs list`: the newest jobs, filtered.
struct JobsListCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List jobs, newest first.",
        discussion: "--json prints {\"jobs\": [job records]}. --status set_aside lists the jobs the queue cannot run "
            + "(records that cannot be read; on PostgreSQL, the jobs a claim or rescue set aside), each with what is "
            + "wrong: --json prints them as {\"jobs\": [], \"set_aside\": [{\"id\", \"record\", \"problem\"}]}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// Only this status.
    @Option(help: ArgumentHelp(
        "Only jobs with this status: queued, running, completed, failed or cancelled; or set_aside for the jobs the "
            + "queue cannot run.", valueName: "status"))
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
        /// With `--status set_aside`, the jobs set aside; absent otherwise.
        var setAside: [SetAside]?

        enum CodingKeys: String, CodingKey {
            case jobs, skipped
            case setAside = "set_aside"
        }
    }

    /// A job set aside, as the HTTP API's `GET /v1/jobs?status=set_aside` names it.
    private struct SetAside: Encodable {
        var id: String?
        var record: String
        var problem: String

        init(_ job: MLSetAsideJob) {
            id = job.id.map(MLKey.job)
            record = job.record
            problem = job.problem.description
        }
    }

    /// Checks the options before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        guard (1...100_000).contains(limit) else {
            throw ValidationError("--limit must be 1…100000, got \(limit)")
        }
        // An empty filter would match no job, silently (the HTTP API refuses it too).
        for (option, value) in [("--kind", kind), ("--queue", queue)] where value?.isEmpty == true {
            throw ValidationError("\(option) must not be empty")
        }
    }

    /// Lists the jobs.
    func run() async throws {
        let wantedStatus = try status.map { try JobText.status($0) }
        let (jobs, unreadable, setAside) = try await options.withQueue(create: false) { jobQueue in
            try await ReadAll.jobs(
                jobQueue, MLJobQuery(status: wantedStatus, kind: kind.map { MLJob.Kind(rawValue: $0) }, queue: queue),
                limit: limit)
        }
        let skipped = SkippedRecords.report(unreadable)
        if wantedStatus == .setAside {
            try report(setAside)
            return
        }
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

    /// Prints the jobs set aside: one line each, the record and what is wrong with it.
    private func report(_ setAside: [MLSetAsideJob]) throws {
        if options.json {
            try Console.json(Result(jobs: [], setAside: setAside.map(SetAside.init)))
            return
        }
        var table = TextTable("ID", "PROBLEM")
        for job in setAside {
            table.add(job.id.map(MLKey.job) ?? job.record, DisplayText.oneLine(job.problem.description))
        }
        table.print(empty: "no jobs set aside" + (kind == nil && queue == nil ? "" : " match the filters"))
    }
}
