import Foundation
import RedML
import RedMLTrainer

/// What `redml demo` prints: the run's job, the version it registered with
/// its held-out metrics, the model's versions, and predictions made with the
/// new version. Text as ``lines``, or the whole value as JSON.
struct DemoReport: Encodable {
    /// One of the model's versions.
    struct VersionLine: Encodable {
        var version: UInt32
        var active: Bool
        var createdAtMs: Int64
        var accuracy: Double?
        var sha256: String
        var jobID: String?

        enum CodingKeys: String, CodingKey {
            case version, active, accuracy, sha256
            case createdAtMs = "created_at_ms", jobID = "job_id"
        }
    }

    /// A held-out row, its true label and the prediction.
    struct PredictionLine: Encodable {
        var row: Int
        var trueLabel: String
        var predictedLabel: String
        var probability: Double

        enum CodingKeys: String, CodingKey {
            case row, probability
            case trueLabel = "true_label", predictedLabel = "predicted_label"
        }
    }

    var store: String
    var backend: String
    var dataset: String
    var model: String
    var version: UInt32
    var jobID: String
    var attempts: Int
    var metrics: MLJSONObject
    var classes: [String]
    var versions: [VersionLine]
    var predictions: [PredictionLine]

    enum CodingKeys: String, CodingKey {
        case store, backend, dataset, model, version, attempts, metrics, classes, versions, predictions
        case jobID = "job_id"
    }

    /// Reads back what the job registered and predicts `predictedRows` held-out rows with it.
    static func make(
        store: OpenedStore, registry: MLModelRegistry, job: MLJob, dataset: MLDataset, predictedRows: Int
    ) async throws -> DemoReport {
        guard let number = job.metrics?["version"]?.intValue.flatMap({ UInt32(exactly: $0) }) else {
            throw CLIError("job \(job.key) completed without reporting the version it registered")
        }
        let model = job.target
        let version = try await registry.version(model, number)
        let active = try await registry.model(model).activeVersion
        var versions: [VersionLine] = []
        var query = MLVersionQuery(limit: 500)
        while true {
            let page = try await registry.versions(of: model, query)
            versions += page.versions.map { version in
                VersionLine(version: version.version, active: version.version == active,
                            createdAtMs: version.createdAtMs, accuracy: version.metrics["accuracy"]?.doubleValue,
                            sha256: version.weights.sha256, jobID: version.jobID.map(MLKey.job))
            }
            guard let next = page.nextCursor else { break }
            query.after = next
        }
        let trained = try await MLSoftmaxModel.load(from: registry, model: model, version: number)
        // Spread over the held-out rows, which are sorted and so grouped by class in most data sets.
        let allHeldOut = dataset.heldOutRows(MLTrainingConfiguration())
        let count = min(predictedRows, allHeldOut.count)
        let heldOut = (0..<count).map { allHeldOut[$0 * allHeldOut.count / count] }
        let predictions = try heldOut.map { row in
            let prediction = try trained.predict(features: dataset.rows[row])
            return PredictionLine(
                row: row + 1, trueLabel: dataset.classes[dataset.labels[row]], predictedLabel: prediction.label,
                probability: prediction.probabilities[prediction.classIndex])
        }
        return DemoReport(
            store: store.location.description, backend: store.location.backendName, dataset: dataset.source,
            model: model, version: number, jobID: job.key, attempts: job.attempt, metrics: version.metrics,
            classes: dataset.classes, versions: versions, predictions: predictions)
    }

    /// The report as text.
    var lines: [String] {
        var lines = ["registered \(model) version \(version) (active) from train job \(jobID) on \(store) (\(backend))"]
        let accuracy = metrics["accuracy"]?.doubleValue ?? .nan
        let f1 = metrics["macro_f1"]?.doubleValue ?? .nan
        let logLoss = metrics["log_loss"]?.doubleValue ?? .nan
        let rows = metrics["test_rows"]?.intValue.map(String.init) ?? "?"
        lines.append(String(format: "held-out metrics (%@ rows): accuracy %.3f, macro-F1 %.3f, log loss %.3f",
                            rows, accuracy, f1, logLoss))
        if case .array(let matrix)? = metrics["confusion_matrix"] {
            lines.append("confusion matrix (rows: true class, columns: predicted):")
            var table = TextTable(headers: [""] + classes)
            for (index, row) in matrix.enumerated() where index < classes.count {
                guard case .array(let cells) = row else { continue }
                table.add([classes[index]] + cells.map { $0.intValue.map(String.init) ?? "?" })
            }
            lines += table.lines.map { "  " + $0 }
        }
        lines.append("versions of \(model):")
        var versionTable = TextTable(headers: ["VERSION", "ACTIVE", "CREATED", "ACCURACY", "SHA256"])
        for line in versions {
            versionTable.add([
                String(line.version), line.active ? "*" : "",
                DisplayText.time(line.createdAtMs),
                line.accuracy.map { String(format: "%.3f", $0) } ?? "-",
                String(line.sha256.prefix(12)),
            ])
        }
        lines += versionTable.lines.map { "  " + $0 }
        lines.append("predictions of version \(version) on \(predictions.count) held-out rows:")
        var predictionTable = TextTable(headers: ["ROW", "TRUE", "PREDICTED", "PROBABILITY"])
        for line in predictions {
            predictionTable.add([String(line.row), line.trueLabel, line.predictedLabel,
                                 String(format: "%.3f", line.probability)])
        }
        lines += predictionTable.lines.map { "  " + $0 }
        return lines
    }
}
