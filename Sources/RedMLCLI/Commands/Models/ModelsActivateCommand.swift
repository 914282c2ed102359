import ArgumentParser
import RedML

/// `redml models activate NAME V`: make a version serve (also rollback).
struct ModelsActivateCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Make a version the active one; activating an older version is a rollback.",
        discussion: "An archived version cannot be activated: unarchive it first. --json prints {\"model\", \"version\", \"previous\"}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    /// The version.
    @Argument(help: ArgumentHelp("The version number to activate.", valueName: "version"))
    var version: UInt32

    /// Activates the version.
    func run() async throws {
        let previous = try await options.withRegistry(create: false) { registry in
            let previous = try await registry.model(name).activeVersion
            try await registry.activate(name, version: version, by: Operator.actor)
            return previous
        }
        let result = PointerChange(model: name, version: version, previous: previous)
        if options.json {
            try Console.json(result)
        } else if previous == version {
            Console.line("version \(version) of '\(name)' was already active")
        } else {
            Console.line(
                "activated version \(version) of '\(name)'" + (previous.map { " (was version \($0))" } ?? " (none was active)"))
        }
    }
}

/// What a pointer move did, for `--json`.
struct PointerChange: Encodable {
    /// The model.
    var model: String
    /// Where the pointer points now.
    var version: UInt32
    /// Where it pointed before, as read just before the move.
    var previous: UInt32?
    /// The alias moved, for `models alias`.
    var alias: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(version, forKey: .version)
        try container.encode(previous, forKey: .previous)
        try container.encodeIfPresent(alias, forKey: .alias)
    }

    enum CodingKeys: String, CodingKey { case model, version, previous, alias }
}
