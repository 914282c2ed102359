import ArgumentParser
import Foundation
import RedML

/// `redml store backup DEST`: a consistent copy of a live SQLite store.
struct StoreBackupCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of a SQLite store to a new file, while others keep writing.",
        discussion: "An existing file at DEST is replaced. Restore it with `redml store restore DEST`."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// Where to write the copy.
    @Argument(help: ArgumentHelp("The backup file to write.", valueName: "dest"))
    var destination: String

    private struct Result: Encodable {
        var store: String
        var backup: String
        var bytes: Int64
    }

    /// Checks the destination before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        // SQLite opens an empty path as a private temporary database, so a backup "to" it would
        // report success and keep nothing.
        guard !destination.isEmpty else {
            throw ValidationError("the backup path is empty; pass the file to write, such as redml-backup.sqlite")
        }
        if FilePaths.isDirectory(destination) {
            throw ValidationError("\(destination) is a directory; pass a file path for the backup, such as \(destination)/redml-backup.sqlite")
        }
    }

    /// Writes the backup and reports its size.
    func run() async throws {
        let result = try await options.withSQLiteStore(
            for: "store backup", postgresAlternative: "use pg_dump --schema with the store's schema", create: false
        ) { sqlite in
            guard !FilePaths.same(sqlite.path, destination) else {
                throw CLIError("the backup file \(destination) is the store itself; choose another path")
            }
            do {
                try await sqlite.backup(to: FilePaths.sqlite(destination))
            } catch let error as MLPersistenceError {
                throw CLIError(
                    error, context: "cannot back up \(sqlite.path) to \(destination)",
                    advice: "check that the backup's directory exists and is writable, and that the disk has room")
            }
            return Result(store: sqlite.path, backup: destination, bytes: FilePaths.size(of: destination))
        }
        if options.json {
            try Console.json(result)
        } else {
            Console.line("backed up \(result.store) to \(result.backup) (\(ByteCount.format(result.bytes)))")
        }
    }
}
