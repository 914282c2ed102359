import ArgumentParser
import RedML

/// `redml models versions NAME`: every version of a model, oldest first.
struct ModelsVersionsCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "List every version of a model, oldest first.",
        discussion: """
            Columns: version, the pointers at it (active and aliases), created, archived, the weights' \
            SHA-256 prefix and size, and the metrics. --json prints {"model": name, "versions": [version records]}.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    private struct Result: Encodable {
        var model: String
        var versions: [MLModelVersion]
        /// Records that could not be read, named; absent when there are none.
        var skipped: [String]?
    }

    /// Lists the versions.
    func run() async throws {
        let (model, versions, unreadable) = try await options.withRegistry(create: false) { registry in
            let model = try await registry.model(name)
            let (versions, skipped) = try await ReadAll.versions(of: name, registry)
            return (model, versions, skipped)
        }
        let skipped = SkippedRecords.report(unreadable)
        if options.json {
            try Console.json(Result(model: name, versions: versions, skipped: skipped.isEmpty ? nil : skipped))
            return
        }
        var table = TextTable("VERSION", "POINTERS", "CREATED", "ARCHIVED", "SHA256", "SIZE", "METRICS")
        for version in versions {
            let pointers = ModelText.pointers(to: version.version, of: model)
            table.add(
                "\(version.version)", pointers.isEmpty ? "-" : pointers, DisplayText.time(version.createdAtMs),
                version.archived ? "yes" : "no",
                version.weights.deleted ? "(deleted)" : DisplayText.shortHash(version.weights.sha256),
                ByteCount.format(version.weights.size), DisplayText.summary(version.metrics))
        }
        table.print(empty: "model '\(name)' has no versions")
    }
}
