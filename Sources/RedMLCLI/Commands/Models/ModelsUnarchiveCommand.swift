import ArgumentParser
import RedML

/// `redml models unarchive NAME V`: bring an archived version back.
struct ModelsUnarchiveCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "unarchive",
        abstract: "Unarchive a version, so it can be activated and aliased again.",
        discussion: "It fails if retention already deleted the version's weights. --json prints {\"version\": version record}."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    /// The version.
    @Argument(help: ArgumentHelp("The version number to unarchive.", valueName: "version"))
    var version: UInt32

    private struct Result: Encodable {
        var version: MLModelVersion
    }

    /// Unarchives the version.
    func run() async throws {
        let (before, after) = try await options.withRegistry(create: false) { registry in
            let before = try await registry.version(name, version)
            let after = try await registry.unarchive(name, version: version, by: Operator.actor)
            return (before, after)
        }
        if options.json {
            try Console.json(Result(version: after))
        } else {
            Console.line(before.archived ? "unarchived version \(version) of '\(name)'" : "version \(version) of '\(name)' was not archived")
        }
    }
}
