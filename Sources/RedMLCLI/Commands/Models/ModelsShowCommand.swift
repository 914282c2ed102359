import ArgumentParser
import RedML

/// `redml models show NAME`: one model's record and its active version.
struct ModelsShowCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a model: its versions, active version, aliases, tags and the active version's metrics.",
        discussion: "--json prints {\"model\": model record, \"active\": version record or null}, and \"skipped\" "
            + "naming the active version's record when it cannot be read (then \"active\" is null)."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    private struct Result: Encodable {
        var model: MLModel
        var active: MLModelVersion?
        /// The active version's record when it cannot be read, named; absent when it can.
        var skipped: [String]?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(model, forKey: .model)
            try container.encode(active, forKey: .active)  // null rather than absent: "none is active"
            try container.encodeIfPresent(skipped, forKey: .skipped)
        }

        enum CodingKeys: String, CodingKey { case model, active, skipped }
    }

    /// Reads and prints the model.
    func run() async throws {
        let details = try await options.withRegistry(create: false) { registry in try await registry.details(of: name) }
        // A corrupt active version is named, as lists name what they skip, and the rest of the model still shows.
        let skipped = SkippedRecords.report(details.skipped)
        let result = Result(model: details.model, active: details.active, skipped: skipped.isEmpty ? nil : skipped)
        if options.json {
            try Console.json(result)
            return
        }
        let model = result.model
        var lines: [(String, String)] = [
            ("model", model.name),
            ("versions", "\(model.versionCount) (latest \(model.latestVersion), \(model.archivedCount) archived)"),
            ("active", model.activeVersion.map { "version \($0)" + (skipped.isEmpty ? "" : " (its record cannot be read)") }
                ?? "none"),
            ("aliases", ModelText.aliases(model.aliases)),
            ("created", DisplayText.time(model.createdAtMs)),
            ("updated", DisplayText.time(model.updatedAtMs)),
            ("history", "\(model.eventCount) events"),
        ]
        if let description = model.description { lines.append(("description", description)) }
        if !model.tags.isEmpty {
            lines.append(("tags", model.tags.keys.sorted().map { "\($0)=\(model.tags[$0]!)" }.joined(separator: " ")))
        }
        if let active = result.active {
            lines.append(("active sha256", active.weights.sha256))
            lines.append(("active size", ByteCount.format(active.weights.size)))
            lines.append(("active metrics", DisplayText.summary(active.metrics, limit: 200)))
        }
        for (label, value) in lines {
            Console.line(label.padding(toLength: 16, withPad: " ", startingAt: 0) + DisplayText.oneLine(value))
        }
    }
}
