import ArgumentParser
import RedML

/// `redml jobs history ID`: a job's transitions.
struct JobsHistoryCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List a job's transitions, oldest first: submitted, claimed, retries, cancel, finish.",
        discussion: "--json prints {\"id\": id, \"events\": [events]}, and \"skipped\" naming events that cannot be read."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The job.
    @Argument(help: ArgumentHelp("The job id (32 hex digits).", valueName: "id"))
    var id: String

    private struct Result: Encodable {
        var id: String
        var events: [MLJobEvent]
        /// Events that could not be read, named; absent when there are none.
        var skipped: [String]?
    }

    /// Lists the transitions.
    func run() async throws {
        let jobID = try JobID.parse(id)
        let history = try await options.withQueue(create: false) { queue in
            try await queue.historyReport(of: jobID)
        }
        let events = history.events
        let skipped = SkippedRecords.report(history.skipped)
        if options.json {
            try Console.json(Result(id: MLKey.job(jobID), events: events, skipped: skipped.isEmpty ? nil : skipped))
            return
        }
        var table = TextTable("SEQ", "AT", "FROM", "TO", "REASON", "ATTEMPT", "WORKER", "DETAIL")
        for event in events {
            table.add(
                "\(event.sequence)", DisplayText.time(event.atMs), event.from?.rawValue ?? "-", event.to.rawValue,
                event.reason, "\(event.attempt)", event.worker ?? "-", event.detail ?? "-")
        }
        table.print(empty: "job \(MLKey.job(jobID)) has no history")
    }
}
