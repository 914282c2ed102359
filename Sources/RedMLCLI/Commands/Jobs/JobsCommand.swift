import ArgumentParser

/// `redml jobs …`: submit, inspect, cancel and follow jobs.
struct JobsCommand: AsyncParsableCommand {
    /// The group's name, help and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Submit, list, inspect, cancel and watch jobs.",
        discussion: """
            A job id is the 32 hex digits `jobs submit` prints, such as 0193a3c0f6a27c3e8b5d1e2f3a4b5c6d. \
            Workers (`redml worker`, `redml serve`, or an app embedding RedML) run the jobs; these commands only read and \
            write the queue.
            """,
        subcommands: [
            JobsSubmitCommand.self, JobsListCommand.self, JobsShowCommand.self, JobsCancelCommand.self,
            JobsHistoryCommand.self, JobsWatchCommand.self,
        ]
    )
}
