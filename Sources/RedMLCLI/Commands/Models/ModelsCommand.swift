import ArgumentParser

/// `redml models …`: read and operate the model registry.
struct ModelsCommand: AsyncParsableCommand {
    /// The group's name, help and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List, inspect, register, activate, alias, archive and download model versions.",
        discussion: """
            Version numbers are the integers `models register` prints (1, 2, 3, …). Every change is \
            recorded in the model's history with the actor cli:$USER.
            """,
        subcommands: [
            ModelsListCommand.self, ModelsShowCommand.self, ModelsVersionsCommand.self,
            ModelsRegisterCommand.self, ModelsActivateCommand.self, ModelsArchiveCommand.self,
            ModelsUnarchiveCommand.self, ModelsAliasCommand.self, ModelsDownloadCommand.self,
            ModelsHistoryCommand.self,
        ]
    )
}
