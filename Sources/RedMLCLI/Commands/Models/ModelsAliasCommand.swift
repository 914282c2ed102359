import ArgumentParser
import RedML

/// `redml models alias NAME ALIAS V`: point a named alias at a version.
struct ModelsAliasCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "alias",
        abstract: "Point an alias (such as champion or staging) at a version, creating or moving it.",
        discussion: "An archived version cannot be aliased. active and latest are built in, and cannot be set "
            + "in any case (Latest, ACTIVE). --json prints {\"model\", \"alias\", \"version\", \"previous\"}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    /// The alias.
    @Argument(help: ArgumentHelp("The alias, such as champion.", valueName: "alias"))
    var alias: String

    /// The version.
    @Argument(help: ArgumentHelp("The version number the alias should point at.", valueName: "version"))
    var version: UInt32

    /// Moves the alias.
    func run() async throws {
        let previous = try await options.withRegistry(create: false) { registry in
            let previous = try await registry.model(name).aliases[alias]
            try await registry.setAlias(alias, of: name, to: version, by: Operator.actor)
            return previous
        }
        if options.json {
            try Console.json(PointerChange(model: name, version: version, previous: previous, alias: alias))
        } else if previous == version {
            Console.line("alias '\(alias)' of '\(name)' already points at version \(version)")
        } else {
            Console.line(
                "alias '\(alias)' of '\(name)' now points at version \(version)"
                    + (previous.map { " (was version \($0))" } ?? " (new alias)"))
        }
    }
}
