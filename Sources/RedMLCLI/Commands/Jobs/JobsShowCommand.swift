import ArgumentParser
import RedML

/// `redml jobs show ID`: everything about one job.
struct JobsShowCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a job: status, progress, attempts, times, spec, metrics and error.",
        discussion: "--json prints {\"job\": job record}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The job.
    @Argument(help: ArgumentHelp("The job id (32 hex digits).", valueName: "id"))
    var id: String

    private struct Result: Encodable {
        var job: MLJob
    }

    /// Reads and prints the job.
    func run() async throws {
        let jobID = try JobID.parse(id)
        let job = try await options.withQueue(create: false) { queue in
            try await queue.requireJob(jobID)
        }
        if options.json {
            try Console.json(Result(job: job))
            return
        }
        var lines: [(String, String)] = [
            ("id", job.key),
            ("kind", job.kind.rawValue),
            ("target", job.target),
            ("status", JobText.status(of: job)),
            ("progress", DisplayText.percent(job.progress)),
            ("queue", "\(job.queue), priority \(job.priority)"),
            ("attempts", "\(job.attempt) of \(job.maxAttempts) (\(job.failures) failed"
                + (job.leaseExpiries > 0 ? ", lease ran out \(job.leaseExpiries) times)" : ")")),
            ("created", DisplayText.time(job.createdAtMs)),
            ("run at", DisplayText.time(job.runAtMs)),
            ("started", DisplayText.time(job.startedAtMs)),
            ("finished", DisplayText.time(job.finishedAtMs)),
        ]
        if let duration = job.duration { lines.append(("duration", DisplayText.duration(duration))) }
        if let worker = job.worker {
            lines.append(("worker", worker + (job.leaseExpiresAtMs.map { ", lease until \(DisplayText.time($0))" } ?? "")))
        }
        if let unique = job.uniqueKey { lines.append(("unique key", unique)) }
        if let error = job.error { lines.append(("error", error)) }
        lines.append(("spec", Self.shown(job.spec)))
        if let metrics = job.metrics { lines.append(("metrics", Self.shown(metrics))) }
        if let checkpoint = job.checkpoint { lines.append(("checkpoint", Self.shown(checkpoint))) }
        for (label, value) in lines {
            Console.line(label.padding(toLength: 12, withPad: " ", startingAt: 0) + DisplayText.oneLine(value))
        }
    }

    /// A JSON object on one line, or, past 400 characters (a checkpoint of
    /// optimizer state, say), its keys and size: `--json` prints it whole.
    static func shown(_ object: MLJSONObject) -> String {
        let text = MLJSONValue.object(object).jsonText
        guard text.count > 400 else { return text }
        let keys = object.keys.sorted()
        let listed = keys.prefix(12).joined(separator: ", ") + (keys.count > 12 ? ", …" : "")
        return "{…} \(text.utf8.count) bytes, keys: \(listed) (--json prints it whole)"
    }
}
