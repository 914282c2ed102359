import ArgumentParser

/// `redml demo`: shows the persistence layer working end to end, one new
/// model version per run.
struct DemoCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Register the next version of the 'demo' model, with weights and a job, and read it back.",
        discussion: """
            Each run allocates the next version number of the model 'demo' by compare-and-swap on its \
            model record, stages a few hundred KB of weights as a blob, and commits the model record, \
            the weights, the version record and a completed job record in one atomic batch. It then \
            reads the version back, streams its weights with SHA-256 verification, lists every version \
            of 'demo' and checks the store's integrity. Run it twice: the second run makes version 2.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// Runs the demo and prints its report.
    func run() async throws {
        let report = try await options.withStore(create: true) { opened in
            try await DemoRun(opened: opened).run()
        }
        if options.json {
            try Console.json(report)
        } else {
            report.lines.forEach { Console.line($0) }
        }
        if let integrity = report.integrity, !integrity.healthy {
            throw CLIError(
                "store \(report.store) has \(integrity.problems.count) integrity problem(s); "
                    + "run `redml store check` for the list and `redml store restore` from a backup to repair it")
        }
    }
}
