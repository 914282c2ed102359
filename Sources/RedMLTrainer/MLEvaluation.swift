import Foundation
import RedMLCore

/// How well a model does on the held-out rows.
public struct MLEvaluation: Hashable, Sendable {
    /// The classes, in the confusion matrix's order.
    public var classes: [String]
    /// `confusionMatrix[true][predicted]`: rows are true classes, columns predicted ones, in class order.
    public var confusionMatrix: [[Int]]
    /// Rows trained on.
    public var trainRows: Int
    /// Rows evaluated.
    public var testRows: Int
    /// Mean cross-entropy of the true class, probabilities clipped to [1e-15, 1].
    public var logLoss: Double

    /// The share of held-out rows predicted correctly.
    public var accuracy: Double {
        let correct = classes.indices.reduce(0) { $0 + confusionMatrix[$1][$1] }
        return testRows == 0 ? 0 : Double(correct) / Double(testRows)
    }

    /// The unweighted mean over classes of F1 = 2·precision·recall / (precision + recall);
    /// a class with no true or predicted rows scores 0 (as scikit-learn's default).
    public var macroF1: Double {
        guard !classes.isEmpty else { return 0 }
        var total = 0.0
        for k in classes.indices {
            let truePositives = Double(confusionMatrix[k][k])
            let actual = Double(confusionMatrix[k].reduce(0, +))
            let predicted = Double(confusionMatrix.reduce(0) { $0 + $1[k] })
            if actual + predicted > 0 { total += 2 * truePositives / (actual + predicted) }
        }
        return total / Double(classes.count)
    }

    /// Evaluates `model` on `rows` of `dataset`.
    init(model: MLSoftmaxModel, dataset: MLDataset, rows: [Int], trainRows: Int) {
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: model.classes.count), count: model.classes.count)
        var loss = 0.0
        for row in rows {
            let probabilities = model.probabilities(raw: dataset.rows[row])
            var best = 0
            for k in probabilities.indices where probabilities[k] > probabilities[best] { best = k }
            let truth = dataset.labels[row]
            matrix[truth][best] += 1
            loss -= Foundation.log(min(max(probabilities[truth], 1e-15), 1))
        }
        classes = model.classes
        confusionMatrix = matrix
        testRows = rows.count
        self.trainRows = trainRows
        logLoss = rows.isEmpty ? 0 : loss / Double(rows.count)
    }

    /// The metrics as registry JSON: `accuracy`, `macro_f1`, `log_loss`,
    /// `confusion_matrix` (rows = true class), `classes`, `train_rows`, `test_rows`.
    public var json: MLJSONObject {
        [
            "accuracy": .double(accuracy),
            "macro_f1": .double(macroF1),
            "log_loss": .double(logLoss),
            "confusion_matrix": .array(confusionMatrix.map { .array($0.map { .int(Int64($0)) }) }),
            "classes": .array(classes.map(MLJSONValue.string)),
            "train_rows": .int(Int64(trainRows)),
            "test_rows": .int(Int64(testRows)),
        ]
    }
}
