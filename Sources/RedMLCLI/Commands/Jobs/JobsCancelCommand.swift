import ArgumentParser
import RedML

/// `redml jobs cancel ID`: stop a job, and say what that did.
struct JobsCancelCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job: a queued job at once, a running one by asking its handler to stop.",
        discussion: """
            Prints what happened: the queued job was cancelled, a running job was asked to stop (it ends \
            cancelled when its handler stops), or nothing was cancelled because the job had already \
            finished. An unknown id fails. --json prints {"id", "outcome", "status"} with outcome \
            cancelled, cancel_requested or already_finished.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The job.
    @Argument(help: ArgumentHelp("The job id (32 hex digits).", valueName: "id"))
    var id: String

    private struct Result: Encodable {
        var id: String
        var outcome: String
        var status: String
    }

    /// Cancels the job.
    func run() async throws {
        let jobID = try JobID.parse(id)
        let key = MLKey.job(jobID)
        let result = try await options.withQueue(create: false) { queue in
            let before = try await queue.requireJob(jobID)
            guard !before.status.isTerminal else {
                return Result(id: key, outcome: "already_finished", status: before.status.rawValue)
            }
            switch try await queue.cancel(jobID) {
            case .cancelled:
                return Result(id: key, outcome: "cancelled", status: MLJob.Status.cancelled.rawValue)
            case .requested:
                return Result(id: key, outcome: "cancel_requested", status: MLJob.Status.running.rawValue)
            case .notCancellable:
                // It finished between the read and the cancel: report how.
                let after = try await queue.requireJob(jobID)
                return Result(id: key, outcome: "already_finished", status: after.status.rawValue)
            }
        }
        if options.json {
            try Console.json(result)
            return
        }
        switch result.outcome {
        case "cancelled":
            Console.line("cancelled queued job \(key); it will not run")
        case "cancel_requested":
            Console.line("cancel requested for running job \(key); it ends cancelled when its handler stops")
        default:
            Console.line("nothing to cancel: job \(key) already \(result.status)")
        }
    }
}
