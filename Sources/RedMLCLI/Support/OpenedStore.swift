import Foundation
import RedML
import PostgresNIO
import RedMLPostgres

/// A store a command opened, with the SQLite backend when it is one.
struct OpenedStore {
    /// Where the store lives.
    let location: StoreLocation
    /// The store, whatever its backend.
    let store: any MLStore
    /// The SQLite backend, or `nil` for other stores.
    let sqlite: SQLiteMLPersistence?
    /// The PostgreSQL backend, whose connection pool must run while it is used.
    var postgres: PostgresMLPersistence? = nil
    /// Whether opening it created a new SQLite file or PostgreSQL store.
    var created: Bool

    /// Opens the store at `location`, migrating a SQLite file's schema.
    ///
    /// - Throws: ``CLIError`` when the file is missing and `create` is false;
    ///   ``MLPersistenceError`` when the file cannot be opened or was written by
    ///   a newer RedML.
    static func open(_ location: StoreLocation, create: Bool) throws -> OpenedStore {
        switch location {
        case .memory:
            return OpenedStore(location: location, store: InMemoryMLPersistence(), sqlite: nil, created: true)
        case .postgres(let url):
            // The command runs the client itself (StoreOptions.withStore), for as long as it needs the store.
            var configuration = try PostgresMLPersistence.clientConfiguration(url: url)
            configuration.options.connectTimeout = StoreOptions.poolConnectTimeout
            // Warnings (a lost LISTEN connection, say) reach the command's log; the driver's
            // own chatter only at a lower REDML_LOG_LEVEL.
            let logger = CLIRuntime.logger("redml.postgres", default: .warning)
            let postgres = try PostgresMLPersistence(
                client: PostgresClient(configuration: configuration, backgroundLogger: logger),
                schema: try PostgresMLPersistence.schema(inURL: url) ?? PostgresMLPersistence.defaultSchema,
                logger: logger)
            return OpenedStore(location: location, store: postgres, sqlite: nil, postgres: postgres, created: false)
        case .sqlite(let path):
            let exists = FileManager.default.fileExists(atPath: path)
            guard exists || create else {
                throw CLIError(
                    "no store at \(path); create one with `redml store migrate --store \(path)`, "
                        + "or point --store or $\(StoreOptions.environmentVariable) at an existing store")
            }
            // SQLite takes an empty file for an empty database, so a command that only reads would
            // quietly make it a store.
            if exists, !create, FilePaths.isEmptyFile(path) {
                throw CLIError(
                    "\(path) is an empty file, not a store; create one there with `redml store migrate --store \(path)`, "
                        + "or point --store or $\(StoreOptions.environmentVariable) at an existing store")
            }
            var configuration = SQLiteMLPersistence.Configuration()
            // A command that only reads must not turn another application's database into a store.
            configuration.createsStore = create
            // A corrupt record the store skips is reported in the command's log.
            configuration.logger = CLIRuntime.logger("redml.sqlite", default: .warning)
            let sqlite = try SQLiteMLPersistence(path: path, configuration: configuration)
            return OpenedStore(location: location, store: sqlite, sqlite: sqlite, created: !exists)
        }
    }

    /// The schema version of a SQLite store (opening it migrated it to this
    /// build's version), or `nil` for `memory:`.
    var schemaVersion: Int? {
        if sqlite != nil { return SQLiteMLPersistence.schemaVersion }
        if postgres != nil { return PostgresMLPersistence.schemaVersion }
        return nil
    }

    /// Closes a SQLite store's connections; nothing to do for `memory:`.
    func close() throws {
        try sqlite?.close()
    }
}
