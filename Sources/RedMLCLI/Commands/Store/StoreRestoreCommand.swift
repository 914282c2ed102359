import ArgumentParser
import Foundation
import RedML

/// `redml store restore SRC`: replace a SQLite store's contents with a backup's.
struct StoreRestoreCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace a SQLite store's whole contents with those of a backup file.",
        discussion: """
            The backup is checked first, as `store check` checks a store (pages, records, blob \
            chunks and SHA-256s): a damaged file, or one written by a newer RedML, is refused \
            and the store is left as it was. A missing store file is created. Revisions keep counting \
            up, so a writer holding a revision from before the restore gets a conflict, not a false match.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The backup to restore from.
    @Argument(help: ArgumentHelp("The backup file to restore from.", valueName: "src"))
    var source: String

    private struct Result: Encodable {
        var store: String
        var restoredFrom: String
        var contents: StoreStatistics

        enum CodingKeys: String, CodingKey {
            case store, contents
            case restoredFrom = "restored_from"
        }
    }

    /// Checks the source before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        guard !source.isEmpty else {
            throw ValidationError("the backup path is empty; pass a file made by `redml store backup`")
        }
        if FilePaths.isDirectory(source) {
            throw ValidationError("\(source) is a directory; pass a file made by `redml store backup`")
        }
    }

    /// Restores, then reports what the store now holds.
    func run() async throws {
        // Before the store is opened: opening a missing store creates it, which a refused restore must
        // not do. (A store that is not SQLite is refused below, with the reason.)
        if case .sqlite = try options.location(), !FileManager.default.fileExists(atPath: source) {
            throw CLIError("backup file \(source) does not exist; pass the path of a file made by `redml store backup`")
        }
        let result = try await options.withSQLiteStore(
            for: "store restore", postgresAlternative: "use pg_restore of a pg_dump", create: true, announceCreation: false
        ) { sqlite in
            guard !FilePaths.same(sqlite.path, source) else {
                throw CLIError("the backup file \(source) is the store itself; pass a backup made by `redml store backup`")
            }
            do {
                try await sqlite.restore(from: FilePaths.sqlite(source))
            } catch let error as MLPersistenceError {
                if case .schemaTooNew = error { throw error }
                throw CLIError(
                    error, context: "cannot restore \(sqlite.path) from \(source)",
                    advice: "the store was left as it was; pass a healthy file made by `redml store backup`")
            }
            return Result(
                store: sqlite.path, restoredFrom: source, contents: try await StoreStatistics.count(sqlite))
        }
        if options.json {
            try Console.json(result)
        } else {
            Console.line("restored \(result.store) from \(result.restoredFrom); it now holds \(result.contents.summary)")
        }
    }
}
