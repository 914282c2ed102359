import ArgumentParser

/// `redml store …`: operator maintenance of the store itself.
struct StoreCommand: AsyncParsableCommand {
    /// The group's name, help and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Back up, restore, check and migrate a store, and show what it holds (info).",
        subcommands: [
            StoreInfoCommand.self, StoreCheckCommand.self, StoreBackupCommand.self,
            StoreRestoreCommand.self, StoreMigrateCommand.self,
        ]
    )
}
