import ArgumentParser
import RedML

/// `redml models history NAME`: who changed what, and when.
struct ModelsHistoryCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List a model's history, oldest first: registrations, activations, alias moves, archives.",
        discussion: "--json prints {\"model\": name, \"events\": [events]}, and \"skipped\" naming events that cannot be read."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    private struct Result: Encodable {
        var model: String
        var events: [MLRegistryEvent]
        /// Records that could not be read, named; absent when there are none.
        var skipped: [String]?
    }

    /// Lists the events.
    func run() async throws {
        let (events, unreadable) = try await options.withRegistry(create: false) { registry in
            var events: [MLRegistryEvent] = []
            var skipped: [MLPersistenceError] = []
            var query = MLHistoryQuery(limit: 1_000)
            while true {
                let page = try await registry.history(of: name, query)
                events += page.events
                skipped += page.skipped
                guard let cursor = page.nextCursor else { return (events, skipped) }
                query.after = cursor
            }
        }
        let skipped = SkippedRecords.report(unreadable)
        if options.json {
            try Console.json(Result(model: name, events: events, skipped: skipped.isEmpty ? nil : skipped))
            return
        }
        var table = TextTable("SEQ", "AT", "EVENT", "VERSION", "PREVIOUS", "ALIAS", "ACTOR")
        for event in events {
            table.add(
                "\(event.sequence)", DisplayText.time(event.atMs), event.kind.rawValue,
                event.version.map(String.init) ?? "-", event.previousVersion.map(String.init) ?? "-",
                event.alias ?? "-", event.actor ?? "-")
        }
        table.print(empty: "model '\(name)' has no history")
    }
}
