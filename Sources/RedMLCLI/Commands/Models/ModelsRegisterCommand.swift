import ArgumentParser
import Foundation
import RedML

/// `redml models register NAME --weights FILE`: a new version from a weights file.
struct ModelsRegisterCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register a new version of a model from a weights file, and print its number.",
        discussion: """
            The model is created on first use. The file is streamed into the store a chunk at a time, \
            hashed on the way, so it may be larger than memory. The new version becomes active unless \
            --no-activate. Example:
              redml models register iris --weights iris.bin --metrics '{"accuracy": 0.97}'
            --json prints {"version": version record}.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name (created if it does not exist).", valueName: "name"))
    var name: String

    /// The weights file.
    @Option(help: ArgumentHelp("The weights file to store.", valueName: "file"))
    var weights: String

    /// Hyperparameters as JSON.
    @Option(help: ArgumentHelp("Training hyperparameters, a JSON object.", valueName: "json"))
    var hyperparams: String?

    /// Metrics as JSON.
    @Option(help: ArgumentHelp("Evaluation metrics, a JSON object.", valueName: "json"))
    var metrics: String?

    /// The version it was fine-tuned from.
    @Option(help: ArgumentHelp("The version this one was fine-tuned from; it must exist.", valueName: "version"))
    var parent: UInt32?

    /// Whether the new version becomes active.
    @Flag(inversion: .prefixedNo, help: "Make the new version active (the default).")
    var activate = true

    private struct Result: Encodable {
        var version: MLModelVersion
    }

    /// Registers the version.
    func run() async throws {
        let registration = MLRegistration(
            model: name,
            hyperparameters: try hyperparams.map { try JSONArgument.object($0, option: "--hyperparams") } ?? [:],
            metrics: try metrics.map { try JSONArgument.object($0, option: "--metrics") } ?? [:],
            parentVersion: parent, createdBy: Operator.actor, activate: activate)
        // Before the store is opened: a refused registration must not leave a new, empty store behind.
        try registration.validate()
        // An empty path would resolve to the working directory, and be reported as a directory.
        guard !weights.isEmpty else {
            throw CLIError.invalidArgument("--weights is empty; pass the path of the file to store")
        }
        let file = URL(fileURLWithPath: weights)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw CLIError("weights file \(weights) does not exist; pass the path of the file to store with --weights")
        }
        guard !FilePaths.isDirectory(file.path) else {
            throw CLIError("--weights \(weights) is a directory; pass the path of the file to store")
        }
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw CLIError("weights file \(weights) cannot be read; check its permissions")
        }
        // As over HTTP: an empty file is a failed export, not a model, and would become the active version.
        guard !FilePaths.isEmptyFile(file.path) else {
            throw CLIError.invalidArgument("weights file \(weights) is empty; pass the file the model was saved to")
        }
        let version = try await options.withRegistry(create: true) { registry in
            try await registry.register(registration, weightsFile: file)
        }
        if options.json {
            try Console.json(Result(version: version))
        } else {
            Console.line("\(version.version)")
        }
    }
}
