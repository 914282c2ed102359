import Foundation

extension MLSoftmaxModel {
    /// Predicts the class of one row given in ``features`` order (raw, not standardised).
    ///
    /// - Throws: ``MLTrainerError`` with code `feature_count_mismatch` if
    ///   `features` does not have one value per model feature.
    public func predict(features values: [Double]) throws(MLTrainerError) -> MLPrediction {
        guard values.count == features.count else {
            throw MLTrainerError(
                code: .featureCountMismatch,
                message: "got \(values.count) feature values; the model expects \(features.count) (\(features.joined(separator: ", ")))")
        }
        let probabilities = probabilities(raw: values)
        var best = 0
        for index in probabilities.indices where probabilities[index] > probabilities[best] { best = index }
        return MLPrediction(label: classes[best], classIndex: best, classes: classes, probabilities: probabilities)
    }

    /// Predicts every row of `dataset`, matching its columns to the model's features by name.
    ///
    /// - Throws: `missing_feature_column` naming the first model feature the data set lacks.
    public func predict(_ dataset: MLDataset) throws(MLTrainerError) -> [MLPrediction] {
        let columns = try columnIndexes(in: dataset.features, source: dataset.source)
        var predictions: [MLPrediction] = []
        predictions.reserveCapacity(dataset.count)
        for row in dataset.rows {
            predictions.append(try predict(features: columns.map { row[$0] }))
        }
        return predictions
    }

    /// Predicts every row of a CSV with a header, matching columns to the
    /// model's features by name. Other columns (a label column, ids) are
    /// ignored, so they may hold anything; the feature cells must be numbers.
    ///
    /// - Throws: `missing_feature_column` naming the first model feature the
    ///   header lacks; `duplicate_column` for a header that names a column
    ///   twice; `empty_data` without data rows; `non_numeric_cell` or
    ///   `ragged_row` naming the line and column.
    public func predict(csv: Data, source: String = "CSV data") throws(MLTrainerError) -> [MLPrediction] {
        let table = try CSVTable(csv, source: source)
        try table.requireUniqueHeader()
        try table.requireRecords()
        let columns = try columnIndexes(in: table.header, source: source)
        var predictions: [MLPrediction] = []
        predictions.reserveCapacity(table.records.count)
        for record in table.records {
            guard record.cells.count == table.header.count else {
                throw MLTrainerError(
                    code: .raggedRow,
                    message: "\(source) line \(record.line): \(record.cells.count) cells, expected \(table.header.count) like the header",
                    source: source, row: record.line)
            }
            var values: [Double] = []
            values.reserveCapacity(columns.count)
            for column in columns {
                let cell = record.cells[column]
                guard let value = Double(cell), value.isFinite else {
                    throw MLTrainerError(
                        code: .nonNumericCell,
                        message: "\(source) line \(record.line), column '\(table.header[column])': '\(cell.prefix(40))' is not a finite number",
                        source: source, row: record.line, column: table.header[column])
                }
                values.append(value)
            }
            predictions.append(try predict(features: values))
        }
        return predictions
    }

    /// Where each model feature is among `names`.
    private func columnIndexes(in names: [String], source: String) throws(MLTrainerError) -> [Int] {
        var position: [String: Int] = [:]
        for (index, name) in names.enumerated() { position[name] = index }
        var indexes: [Int] = []
        for feature in features {
            guard let index = position[feature] else {
                throw MLTrainerError(
                    code: .missingFeatureColumn,
                    message: "\(source) has no column '\(feature)', which the model needs (it has: \(names.joined(separator: ", ")))",
                    source: source, column: feature)
            }
            indexes.append(index)
        }
        return indexes
    }

    /// Softmax probabilities for a raw row in feature order.
    func probabilities(raw values: [Double]) -> [Double] {
        var logits = bias
        for c in classes.indices {
            var sum = logits[c]
            let row = weights[c]
            for f in features.indices {
                sum += row[f] * ((values[f] - mean[f]) / std[f])
            }
            logits[c] = sum
        }
        return Softmax.normalise(logits)
    }
}

/// The softmax function, computed stably.
enum Softmax {
    /// `exp(x - max) / Σ exp(x - max)`.
    static func normalise(_ logits: [Double]) -> [Double] {
        let top = logits.max() ?? 0
        let exponentials = logits.map { Foundation.exp($0 - top) }
        let total = exponentials.reduce(0, +)
        return exponentials.map { $0 / total }
    }
}
