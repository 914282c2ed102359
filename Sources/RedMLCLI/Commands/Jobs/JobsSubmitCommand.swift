import ArgumentParser
import Foundation
import RedML

/// `redml jobs submit KIND TARGET`: queue a job and print its id.
struct JobsSubmitCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job and print its id.",
        discussion: """
            --run-at TIME delays the job; TIME is \(RunAtTime.forms). Examples:
              redml jobs submit train iris --spec '{"data": "builtin:iris"}' --priority 10
              redml jobs submit backfill emb --run-at +5m --unique-key nightly
            With --unique-key, while a live job holds the key, that job's id is printed (with a note on \
            stderr) and nothing is \
            submitted. --json prints {"id": id, "job": job record, "duplicate": bool}.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// What the job does.
    @Argument(help: ArgumentHelp("What the job does: train, backfill, feature_refresh, drift_compute, or your own kind.", valueName: "kind"))
    var kind: String

    /// What it changes.
    @Argument(help: ArgumentHelp("The model, feature or embedding column the job changes.", valueName: "target"))
    var target: String

    /// The handler's input.
    @Option(help: ArgumentHelp("The handler's input, a JSON object.", valueName: "json"))
    var spec: String?

    /// The priority.
    @Option(parsing: .unconditional, help: ArgumentHelp("Higher runs first, -1000…1000.", valueName: "n"))
    var priority = 0

    /// The named queue.
    @Option(help: ArgumentHelp("The named queue to run in.", valueName: "name"))
    var queue = "default"

    /// Attempts allowed.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Attempts allowed before the job fails for good, 1…1000.", valueName: "n"))
    var maxAttempts = 3

    /// Not before this time.
    @Option(help: ArgumentHelp("Not before TIME: ISO 8601 with a zone, +30s/+5m/+2h/+1d/+500ms from now, or epoch milliseconds.", valueName: "time"))
    var runAt: String?

    /// The deduplication key.
    @Option(help: ArgumentHelp("While a live job holds this key, print its id instead of submitting.", valueName: "key"))
    var uniqueKey: String?

    private struct Result: Encodable {
        var id: String
        var job: MLJob
        /// Whether a live job held the unique key, so nothing was submitted.
        var duplicate: Bool
    }

    /// Submits the job.
    func run() async throws {
        let submission = MLJobSubmission(
            kind: MLJob.Kind(rawValue: kind), target: target,
            spec: try spec.map { try JSONArgument.object($0, option: "--spec") } ?? [:],
            priority: priority, queue: queue, maxAttempts: maxAttempts,
            runAt: try runAt.map { try RunAtTime.parse($0, now: Date()) }, uniqueKey: uniqueKey)
        // Before the store is opened: a refused submission must not leave a new, empty store behind.
        try submission.validate()
        let (job, isDuplicate) = try await options.withQueue(create: true) { queue in
            try await queue.submitJobOrFindDuplicate(submission)
        }
        if isDuplicate {
            // stdout keeps the id alone, for scripts; the note goes where people look.
            Console.error("nothing submitted: live job \(job.key) (\(job.kind.rawValue) \(job.target), "
                + "\(job.status.rawValue)) holds unique key '\(uniqueKey ?? "")'")
        }
        if options.json {
            try Console.json(Result(id: job.key, job: job, duplicate: isDuplicate))
        } else {
            Console.line(job.key)
        }
    }
}
