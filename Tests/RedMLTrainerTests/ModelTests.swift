import Foundation
import RedMLTrainer
import Testing

@Suite("Softmax model and weights format")
struct ModelTests {
    private func trainedIris() async throws -> (MLSoftmaxModel, MLDataset) {
        let dataset = try MLDataset.resolve("builtin:iris")
        return (try await MLTrainer.train(dataset: dataset, configuration: quickConfiguration(epochs: 60)).model, dataset)
    }

    @Test("weights round-trip through the documented JSON exactly")
    func roundTrip() async throws {
        let (model, _) = try await trainedIris()
        let data = model.encoded()
        let decoded = try MLSoftmaxModel(decoding: data)
        #expect(decoded == model)
        #expect(decoded.encoded() == data)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["format", "features", "classes", "mean", "std", "weights", "bias"])
        #expect(object["format"] as? String == "redml.softmax.v1")
        #expect(String(decoding: data, as: UTF8.self).hasPrefix("{\"format\":\"redml.softmax.v1\",\"features\":"))
        #expect((object["weights"] as? [[Double]])?.count == 3)
        // Codable agrees with the hand-written encoder.
        #expect(try JSONDecoder().decode(MLSoftmaxModel.self, from: try JSONEncoder().encode(model)) == model)
    }

    @Test("other formats and malformed weights are refused with a specific message")
    func wrongFormat() async throws {
        let (model, _) = try await trainedIris()
        var text = String(decoding: model.encoded(), as: UTF8.self)
        text = text.replacingOccurrences(of: "redml.softmax.v1", with: "redml.softmax.v9")
        let other = expectTrainerError(.invalidWeights) { try MLSoftmaxModel(decoding: Data(text.utf8)) }
        #expect(other?.message == "weights have format 'redml.softmax.v9'; expected 'redml.softmax.v1'")
        let missing = expectTrainerError(.invalidWeights) { try MLSoftmaxModel(decoding: Data("{\"format\":\"redml.softmax.v1\"}".utf8)) }
        #expect(missing?.message.contains("missing field 'features'") == true)
        expectTrainerError(.invalidWeights) { try MLSoftmaxModel(decoding: Data("not json".utf8)) }
        let shape = expectTrainerError(.invalidWeights) {
            try MLSoftmaxModel(features: ["a", "b"], classes: ["x", "y"], mean: [0, 0], std: [1, 1],
                               weights: [[1, 2], [3]], bias: [0, 0])
        }
        #expect(shape?.message.contains("weights row 1 (class 'y') has 1 values; expected 2") == true)
    }

    @Test("predictions follow the documented formula")
    func predictFormula() throws {
        let model = try MLSoftmaxModel(features: ["a", "b"], classes: ["no", "yes"], mean: [1, 2], std: [2, 1],
                                       weights: [[0, 0], [1, -1]], bias: [0, 0.5])
        let prediction = try model.predict(features: [3, 2])  // z = [1, 0]; logits [0, 1.5]
        let expected = 1 / (1 + exp(-1.5))
        #expect(prediction.label == "yes" && prediction.classIndex == 1)
        #expect(abs(prediction.probabilities[1] - expected) < 1e-12)
        #expect(abs(prediction.probabilities.reduce(0, +) - 1) < 1e-12)
        #expect(prediction.probability(of: "no") == prediction.probabilities[0])
        #expect(prediction.probabilityByClass["yes"] == prediction.probabilities[1])
        expectTrainerError(.featureCountMismatch) { try model.predict(features: [1]) }
    }

    @Test("a CSV for prediction is matched by column name, with or without the label column")
    func predictByColumnName() async throws {
        let (model, dataset) = try await trainedIris()
        let rows = [0, 60, 120]
        let expected = try rows.map { try model.predict(features: dataset.rows[$0]) }
        // Columns reordered, an extra id column, no label column.
        var lines = ["petal_width_cm,id,sepal_width_cm,petal_length_cm,sepal_length_cm"]
        for row in rows {
            let x = dataset.rows[row]
            lines.append("\(x[3]),row-\(row),\(x[1]),\(x[2]),\(x[0])")
        }
        let predictions = try model.predict(csv: Data(lines.joined(separator: "\n").utf8), source: "new.csv")
        #expect(predictions == expected)
        #expect(predictions.map(\.label) == ["setosa", "versicolor", "virginica"])
        // The training layout, label column included (its text is ignored).
        var withLabel = ["sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm,species"]
        for row in rows { withLabel.append(dataset.rows[row].map { "\($0)" }.joined(separator: ",") + ",unknown") }
        #expect(try model.predict(csv: Data(withLabel.joined(separator: "\n").utf8)) == expected)
        #expect(try model.predict(dataset).count == 150)
    }

    @Test("a prediction CSV without a feature column names it")
    func missingFeature() async throws {
        let (model, _) = try await trainedIris()
        let error = expectTrainerError(.missingFeatureColumn) {
            try model.predict(csv: csv("sepal_length_cm,sepal_width_cm,petal_length_cm", "1,2,3"), source: "new.csv")
        }
        #expect(error?.column == "petal_width_cm")
        #expect(error?.message == "new.csv has no column 'petal_width_cm', which the model needs (it has: sepal_length_cm, sepal_width_cm, petal_length_cm)")
        let bad = expectTrainerError(.nonNumericCell) {
            try model.predict(csv: csv("sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm,species",
                                       "1,2,3,?,setosa"), source: "new.csv")
        }
        #expect(bad?.row == 2 && bad?.column == "petal_width_cm")
    }

    @Test("a prediction CSV that names a column twice, or has no data rows, is refused as train refuses it")
    func duplicateColumnsAndNoRows() async throws {
        let (model, _) = try await trainedIris()
        let twice = expectTrainerError(.duplicateColumn) {
            try model.predict(csv: csv("sepal_length_cm,sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm",
                                       "5.1,9,3.5,1.4,0.2"), source: "dup.csv")
        }
        #expect(twice?.message == "dup.csv: the header names column 'sepal_length_cm' twice")
        let headerOnly = expectTrainerError(.emptyData) {
            try model.predict(csv: csv("sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm"), source: "rows.csv")
        }
        #expect(headerOnly?.message == "rows.csv has a header but no data rows")
    }
}
