import ArgumentParser
import RedML

/// `redml jobs watch ID`: follow a job until it finishes.
struct JobsWatchCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a job until it finishes; exit 0 if it completed, 1 if it failed or was cancelled.",
        discussion: """
            On a terminal it draws one progress bar, redrawn in place, with the percentage, the time \
            elapsed and an estimate of the time left. When stdout is a file or a pipe it prints one plain \
            line per change of status or percentage, without control characters. --json prints only the \
            final {"job": job record}.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The job.
    @Argument(help: ArgumentHelp("The job id (32 hex digits).", valueName: "id"))
    var id: String

    /// How often to read the job.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("How often to read the job, in milliseconds (10…60000).", valueName: "ms"))
    var interval = 250

    private struct Result: Encodable {
        var job: MLJob
    }

    /// Checks the options before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        guard (10...60_000).contains(interval) else {
            throw ValidationError("--interval must be 10…60000 milliseconds, got \(interval)")
        }
    }

    /// Follows the job and exits by its final status.
    func run() async throws {
        let jobID = try JobID.parse(id)
        let display: ProgressDisplay? = options.json ? nil : ProgressDisplay()
        let final: MLJob = try await options.withQueue(create: false) { queue in
            try await JobFollowing.follow(jobID, in: queue, display: display, interval: .milliseconds(interval))
        }
        if options.json {
            try Console.json(Result(job: final))
        }
        do {
            try JobFollowing.requireCompleted(final, display: display)
        } catch var failure as CLIError {
            failure.resultPrinted = options.json
            throw failure
        }
    }
}
