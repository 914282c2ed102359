import ArgumentParser
import RedML

/// `redml models list`: every model with its pointers and counters.
struct ModelsListCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List every model: active version, total and archived versions, aliases.",
        discussion: "Models are read a page at a time, in name order. --json prints {\"models\": [model records]}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    private struct Result: Encodable {
        var models: [MLModel]
        /// Records that could not be read, named; absent when there are none.
        var skipped: [String]?
    }

    /// Lists the models.
    func run() async throws {
        let (models, unreadable) = try await options.withRegistry(create: false) { registry in
            try await ReadAll.models(registry)
        }
        let skipped = SkippedRecords.report(unreadable)
        if options.json {
            try Console.json(Result(models: models, skipped: skipped.isEmpty ? nil : skipped))
            return
        }
        var table = TextTable("NAME", "ACTIVE", "VERSIONS", "ARCHIVED", "ALIASES")
        for model in models {
            table.add(
                model.name, model.activeVersion.map(String.init) ?? "-", "\(model.versionCount)",
                "\(model.archivedCount)", ModelText.aliases(model.aliases))
        }
        table.print(empty: "no models; register one with `redml models register NAME --weights FILE`")
    }
}
