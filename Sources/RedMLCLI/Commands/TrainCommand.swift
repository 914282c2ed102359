import ArgumentParser
import Foundation
import RedML
import RedMLRuntime
import RedMLTrainer

/// `redml train`: submit a `train` job for the built-in trainer.
struct TrainCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Submit a job that trains a softmax classifier on a CSV file and registers it as a new version.",
        discussion: """
            --data takes a CSV file with a header row (every column but the label numeric), or \
            builtin:iris, builtin:wine, builtin:breast_cancer or builtin:digits. Without --wait it \
            prints the job id and a `redml worker` or `redml serve` runs the job; with --wait it also \
            runs a worker in this process, shows the progress and prints the new version's metrics; \
            interrupting it (Ctrl-C, SIGTERM) cancels the job, and a second interrupt quits at once.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The training data.
    @Option(help: ArgumentHelp("A CSV file, or builtin:NAME.", valueName: "file.csv|builtin:NAME"))
    var data: String

    /// The label column.
    @Option(help: ArgumentHelp("The label column's name. Default: the last column.", valueName: "column"))
    var label: String?

    /// The model to register a version of.
    @Option(help: ArgumentHelp("The model to register the trained version of.", valueName: "name"))
    var model: String

    /// Passes over the training rows.
    @Option(parsing: .unconditional, help: ArgumentHelp("Passes over the training rows. Default: 200.", valueName: "n"))
    var epochs: Int?

    /// Whether the new version stays inactive.
    @Flag(name: .customLong("no-activate"), help: "Register the new version without making it active.")
    var noActivate = false

    /// Whether to wait for the job.
    @Flag(help: "Run the job here and wait for it, showing its progress.")
    var wait = false

    /// Submits the job (and with --wait runs and follows it).
    func run() async throws {
        let spec = try makeSpec()
        let outcome: (job: MLJob, version: MLModelVersion?) = try await options.withStore(create: true) { opened in
            let logger = CLIRuntime.logger("redml.train", default: .warning)
            let runtime = CLIRuntime.make(store: opened.store, workers: wait ? 1 : 0, logger: logger)
            // Trapped before the job exists, so an early Ctrl-C cancels it rather than killing the process.
            let interrupts = wait ? await JobFollowing.trapInterrupts() : nil
            let id: UInt128
            do {
                id = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: model, spec: spec))
            } catch let error as MLJobError {
                throw CLIError(error)
            }
            guard wait, let interrupts else { return (try await runtime.queue.requireJob(id), nil) }
            let display: ProgressDisplay? = options.json ? nil : ProgressDisplay()
            let job = try await CLIRuntime.whileRunning(runtime, logger: logger) {
                try await JobFollowing.followCancellingOnInterrupt(id, in: runtime.queue, display: display, interrupts: interrupts)
            }
            try JobFollowing.requireCompleted(job, display: display)
            guard let number = job.metrics?["version"]?.intValue.flatMap({ UInt32(exactly: $0) }) else {
                return (job, nil)
            }
            return (job, try await runtime.registry.version(model, number))
        }
        if options.json {
            try Console.json(TrainOutput(job: outcome.job, version: outcome.version))
        } else if let version = outcome.version {
            Console.line("registered \(model) version \(version.version)" + (noActivate ? " (not active)" : "")
                + (version.metrics["accuracy"]?.doubleValue.map { String(format: ", held-out accuracy %.3f", $0) } ?? ""))
        } else {
            Console.line(outcome.job.key)
        }
    }

    /// The job's spec, checked here so a mistake fails now rather than in a worker.
    private func makeSpec() throws -> MLJSONObject {
        var data = self.data
        if data.hasPrefix(MLBuiltinDataset.prefix) {
            let name = String(data.dropFirst(MLBuiltinDataset.prefix.count))
            guard MLBuiltinDataset(name: name) != nil else {
                throw CLIError("--data \(data): no such built-in data set; choose one of "
                    + MLBuiltinDataset.all.map { MLBuiltinDataset.prefix + $0.name }.joined(separator: ", "))
            }
        } else {
            // An empty path would resolve to the working directory, and be reported as a directory.
            guard !data.isEmpty else { throw CLIError.invalidArgument("--data is empty; pass a CSV file or builtin:iris") }
            // Workers may run elsewhere in the file system: pass an absolute path.
            let url = URL(fileURLWithPath: data)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw CLIError("--data \(data): no such file; pass a CSV file or builtin:iris")
            }
            guard !FilePaths.isDirectory(url.path) else {
                throw CLIError("--data \(data) is a directory; pass a CSV file or builtin:iris")
            }
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                throw CLIError("--data \(data): permission denied; make the file readable")
            }
            data = url.standardizedFileURL.path
        }
        do {
            try MLModelRegistry.validateModelName(model)
        } catch {
            throw CLIError("--model: \(error.message)")
        }
        if let label, let header = MLDataset.header(of: data), !header.contains(label) {
            throw CLIError("--label \(label): --data \(self.data) has no such column (columns: "
                + "\(header.joined(separator: ", "))); name one of them, or leave --label out for the last")
        }
        var spec: MLJSONObject = ["data": .string(data), "activate": .bool(!noActivate)]
        if let label { spec["label"] = .string(label) }
        if let epochs { spec["epochs"] = .int(Int64(epochs)) }
        do {
            _ = try MLTrainSpec(json: spec)
        } catch {
            throw CLIError("invalid training settings: \(error.message)")
        }
        return spec
    }
}

/// `redml train --json` output.
private struct TrainOutput: Encodable {
    var job: MLJob
    var version: MLModelVersion?
}
