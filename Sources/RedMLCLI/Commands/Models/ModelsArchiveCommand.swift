import ArgumentParser
import RedML

/// `redml models archive NAME V [--force]`: retire a version without deleting it.
struct ModelsArchiveCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Archive a version: it stays readable, but cannot be activated or aliased.",
        discussion: """
            Archiving the active version or an aliased one fails unless --force, which also clears the \
            active pointer and those aliases. --json prints {"version": version record}.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    /// The version.
    @Argument(help: ArgumentHelp("The version number to archive.", valueName: "version"))
    var version: UInt32

    /// Whether to archive an active or aliased version.
    @Flag(help: "Archive it even if it is active or aliased, clearing those pointers.")
    var force = false

    private struct Result: Encodable {
        var version: MLModelVersion
    }

    /// Archives the version.
    func run() async throws {
        let (before, after) = try await options.withRegistry(create: false) { registry in
            let before = try await registry.version(name, version)
            let after = try await registry.archive(name, version: version, force: force, by: Operator.actor)
            return (before, after)
        }
        if options.json {
            try Console.json(Result(version: after))
        } else {
            Console.line(before.archived ? "version \(version) of '\(name)' was already archived" : "archived version \(version) of '\(name)'")
        }
    }
}
