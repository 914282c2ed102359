import ArgumentParser

/// The root `redml` command: the operator's tool for a RedML store.
///
/// Each subcommand lives in its own file under `Commands/`.
struct RedMLCommand: AsyncParsableCommand {
    /// The command's name, help and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "redml",
        abstract: "Operate a RedML model registry and job queue store.",
        discussion: """
            Every command takes --store (a SQLite file path, a postgres://user:pass@host:port/db \
            URL, or memory: for a throwaway in-memory store; default $REDML_STORE, else \
            ./redml.sqlite) and --json.

            Exit status: 0 on success; 1 when the command failed (one line on stderr says \
            why and what to do; with --json, stdout also gets {"error": {"code", "message"}}) or \
            `store check` found problems; 64 for a usage error or an argument the command cannot \
            use (code invalid_argument).
            """,
        version: "redml 0.1.0",
        subcommands: [
            DemoCommand.self, TrainCommand.self, PredictCommand.self, ModelsCommand.self, JobsCommand.self,
            WorkerCommand.self, ServeCommand.self, StoreCommand.self,
        ]
    )
}
