import ArgumentParser
import RedML
import RedMLPostgres

/// `redml store migrate`: opens the store, which brings its schema up to date.
struct StoreMigrateCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create the store or bring its schema up to date, and print the schema version.",
        discussion: """
            Opening a store migrates it, so every command does this; `migrate` does only this. \
            A store written by a newer RedML is refused and left unchanged.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    private struct Result: Encodable {
        var store: String
        var backend: String
        var schemaVersion: Int?
        var latestSchemaVersion: Int
        var created: Bool

        enum CodingKeys: String, CodingKey {
            case store, backend, created
            case schemaVersion = "schema_version"
            case latestSchemaVersion = "latest_schema_version"
        }
    }

    /// Opens (and so migrates) the store and reports its schema version.
    func run() async throws {
        let result = try await options.withStore(create: true, announceCreation: false) { opened in
            Result(
                store: opened.location.description, backend: opened.location.backendName,
                schemaVersion: opened.schemaVersion, latestSchemaVersion: opened.postgres == nil
                    ? SQLiteMLPersistence.schemaVersion : PostgresMLPersistence.schemaVersion,
                created: opened.location != .memory && opened.created)
        }
        if options.json {
            try Console.json(result)
        } else if let version = result.schemaVersion {
            let verb = result.created ? "created \(result.store) at" : "\(result.store) is at"
            Console.line("\(verb) schema \(version), the newest this build of RedML knows")
        } else {
            Console.line("\(result.store) keeps nothing on disk, so it has no schema to migrate")
        }
    }
}
