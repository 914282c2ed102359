import ArgumentParser
import Foundation
import RedML
import RedMLTrainer

/// `redml predict`: classify the rows of a CSV file with a registered model.
struct PredictCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print the predicted label and class probabilities for each row of a CSV file.",
        discussion: """
            The model is a version registered by the built-in trainer. Columns are matched by name \
            with the model's features; other columns (such as the label) are ignored. Without \
            --version or --alias the active version is used.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Option(help: ArgumentHelp("The model to predict with.", valueName: "name"))
    var model: String

    /// A version number.
    @Option(help: ArgumentHelp("The version to use.", valueName: "v"))
    var version: UInt32?

    /// An alias.
    @Option(help: ArgumentHelp("The alias to use (active, latest, or a named alias).", valueName: "alias"))
    var alias: String?

    /// The rows to classify.
    @Option(help: ArgumentHelp("A CSV file with a header row, or builtin:NAME.", valueName: "file.csv"))
    var data: String

    /// Rejects --version with --alias.
    func validate() throws {
        if version != nil && alias != nil { throw ValidationError("pass --version or --alias, not both") }
    }

    private struct Row: Encodable {
        var row: Int
        var label: String
        var probabilities: [String: Double]
    }

    private struct Output: Encodable {
        var model: String
        var version: UInt32
        var predictions: [Row]
    }

    /// Loads the model and prints one line per row.
    func run() async throws {
        let csv = try readData()
        let (number, predictions) = try await options.withRegistry(create: false) { registry in
            let chosen: MLModelVersion
            if let version {
                chosen = try await registry.version(model, version)
            } else {
                let alias = alias ?? "active"
                guard let found = try await registry.version(of: model, alias: alias) else {
                    throw CLIError("model '\(model)' has no \(alias) version; pass --version or activate one with "
                        + "`redml models activate \(model) V`")
                }
                chosen = found
            }
            let loaded: MLSoftmaxModel
            do {
                loaded = try await MLSoftmaxModel.load(from: registry, model: model, version: chosen.version)
            } catch let error as MLTrainerError {
                throw CLIError("\(model) version \(chosen.version) is not a model `redml predict` can load: "
                    + "\(error.message)")
            }
            do {
                return (chosen.version, try loaded.predict(csv: csv, source: data))
            } catch let error as MLTrainerError {
                throw CLIError("cannot predict \(data) with \(model) version \(chosen.version): \(error.message)")
            }
        }
        let rows = predictions.enumerated().map { index, prediction in
            Row(row: index + 1, label: prediction.label, probabilities: prediction.probabilityByClass)
        }
        if options.json {
            try Console.json(Output(model: model, version: number, predictions: rows))
            return
        }
        for (row, prediction) in zip(rows, predictions) {
            let probabilities = zip(prediction.classes, prediction.probabilities)
                .map { "\($0)=\(String(format: "%.3f", $1))" }.joined(separator: " ")
            Console.line("\(row.row)\t\(row.label)\t\(probabilities)")
        }
    }

    private func readData() throws -> Data {
        if data.hasPrefix(MLBuiltinDataset.prefix) {
            guard let builtin = MLBuiltinDataset(name: String(data.dropFirst(MLBuiltinDataset.prefix.count))) else {
                throw CLIError("--data \(data): no such built-in data set; choose one of "
                    + MLBuiltinDataset.all.map(\.description).joined(separator: ", "))
            }
            return try builtin.csvData()
        }
        guard !data.isEmpty else { throw CLIError.invalidArgument("--data is empty; pass a CSV file with a header row") }
        guard !FilePaths.isDirectory(data) else {
            throw CLIError("--data \(data) is a directory; pass a CSV file with a header row")
        }
        guard let contents = FileManager.default.contents(atPath: data) else {
            throw CLIError("--data \(data): no such file or not readable; pass a CSV file with a header row")
        }
        return contents
    }
}
