import ArgumentParser
import Foundation
import RedML
import RedMLRuntime
import RedMLTrainer

/// `redml demo`: the main job, end to end. Trains a classifier through the
/// queue on a bundled data set, registers and activates it, and predicts
/// held-out rows with it; each run makes the next version.
struct DemoCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a classifier through the job queue, register it as the next version, and predict with it.",
        discussion: """
            Submits a `train` job for the model named after the data set, runs it on a worker in this \
            process with a live progress bar, and prints the held-out metrics, the model's versions and \
            predictions for a few held-out rows made with the version just registered. State persists \
            in the store: running it again registers version 2, and so on. The data sets are from the \
            UCI Machine Learning Repository (CC BY 4.0).
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The bundled data set.
    @Option(help: ArgumentHelp("iris, wine, breast_cancer or digits.", valueName: "name"))
    var dataset = "iris"

    /// How many held-out rows to predict.
    static let predictedRows = 5

    /// Checks the options before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        guard MLBuiltinDataset(name: dataset) != nil else {
            throw ValidationError("unknown data set '\(dataset)'; choose one of "
                + MLBuiltinDataset.all.map(\.name).joined(separator: ", "))
        }
    }

    /// Runs the demo and prints its report.
    func run() async throws {
        guard let builtin = MLBuiltinDataset(name: dataset) else {
            throw CLIError("unknown data set '\(dataset)'")  // validate() refused it already
        }
        let data = try builtin.load()
        let display: ProgressDisplay? = options.json ? nil : ProgressDisplay()
        if !options.json {
            Console.line("dataset \(builtin.name): \(data.count) rows, \(data.features.count) features, "
                + "\(data.classes.count) classes (UCI Machine Learning Repository, CC BY 4.0)")
        }
        let report = try await options.withStore(create: true, announceCreation: false) { opened in
            let logger = CLIRuntime.logger("redml.demo", default: .warning)
            let runtime = CLIRuntime.make(store: opened.store, workers: 1, logger: logger)
            // Trapped before the job exists, so an early Ctrl-C cancels it rather than killing the process.
            let interrupts = await JobFollowing.trapInterrupts()
            let spec: MLJSONObject = ["data": .string(builtin.description)]
            let id = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: builtin.name, spec: spec))
            let job = try await CLIRuntime.whileRunning(runtime, logger: logger) {
                try await JobFollowing.followCancellingOnInterrupt(
                    id, in: runtime.queue, display: display, interval: .milliseconds(100), interrupts: interrupts)
            }
            try JobFollowing.requireCompleted(job, display: display)
            return try await DemoReport.make(
                store: opened, registry: runtime.registry, job: job, dataset: data, predictedRows: Self.predictedRows)
        }
        if options.json {
            try Console.json(report)
        } else {
            report.lines.forEach { Console.line($0) }
        }
    }
}
