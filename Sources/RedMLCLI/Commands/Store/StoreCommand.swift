import ArgumentParser

/// `redml store …`: operator maintenance of the store itself.
struct StoreCommand: AsyncParsableCommand {
    /// The group's name, help and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Back up, restore, check, migrate and describe a store.",
        subcommands: [
            StoreInfoCommand.self, StoreCheckCommand.self, StoreBackupCommand.self,
            StoreRestoreCommand.self, StoreMigrateCommand.self,
        ]
    )
}
