import ArgumentParser
import RedML

/// `redml models show NAME`: one model's record and its active version.
struct ModelsShowCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a model: its versions, active version, aliases, tags and the active version's metrics.",
        discussion: "--json prints {\"model\": model record, \"active\": version record or null}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    private struct Result: Encodable {
        var model: MLModel
        var active: MLModelVersion?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(model, forKey: .model)
            try container.encode(active, forKey: .active)  // null rather than absent: "none is active"
        }

        enum CodingKeys: String, CodingKey { case model, active }
    }

    /// Reads and prints the model.
    func run() async throws {
        let result = try await options.withRegistry(create: false) { registry in
            Result(model: try await registry.model(name), active: try await registry.activeVersion(of: name))
        }
        if options.json {
            try Console.json(result)
            return
        }
        let model = result.model
        var lines: [(String, String)] = [
            ("model", model.name),
            ("versions", "\(model.versionCount) (latest \(model.latestVersion), \(model.archivedCount) archived)"),
            ("active", model.activeVersion.map { "version \($0)" } ?? "none"),
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
