import Foundation
import RedML
import RedMLTrainer
import Testing

@Suite("Training")
struct TrainingTests {
    @Test("iris: held-out accuracy of at least 0.90 with the defaults")
    func irisAccuracy() async throws {
        let result = try await MLTrainer.train(dataset: try MLDataset.resolve("builtin:iris"))
        #expect(result.evaluation.accuracy >= 0.90, "\(result.metrics)")
        #expect(result.evaluation.trainRows == 120 && result.evaluation.testRows == 30)
        #expect(result.evaluation.macroF1 > 0.85)
        #expect(result.evaluation.logLoss < 0.5)
        #expect(result.hyperparameters["l2"] == .double(1.0 / 120))
    }

    @Test("breast cancer: held-out accuracy of at least 0.94 with the defaults")
    func breastCancerAccuracy() async throws {
        let result = try await MLTrainer.train(dataset: try MLDataset.resolve("builtin:breast_cancer"))
        #expect(result.evaluation.accuracy >= 0.94, "\(result.metrics)")
        #expect(result.evaluation.testRows == 114 || result.evaluation.testRows == 113)
    }

    @Test("wine: held-out accuracy of at least 0.94 with the defaults")
    func wineAccuracy() async throws {
        let result = try await MLTrainer.train(dataset: try MLDataset.resolve("builtin:wine"))
        #expect(result.evaluation.accuracy >= 0.94, "\(result.metrics)")
    }

    @Test("the metrics are consistent with the confusion matrix")
    func metricsShape() async throws {
        let result = try await MLTrainer.train(dataset: try MLDataset.resolve("builtin:iris"), configuration: quickConfiguration())
        let evaluation = result.evaluation
        #expect(evaluation.confusionMatrix.count == 3 && evaluation.confusionMatrix.allSatisfy { $0.count == 3 })
        #expect(evaluation.confusionMatrix.joined().reduce(0, +) == evaluation.testRows)
        let metrics = result.metrics
        for key in ["accuracy", "macro_f1", "log_loss", "confusion_matrix", "classes", "train_rows", "test_rows", "train_loss"] {
            #expect(metrics[key] != nil, "missing metric \(key)")
        }
        #expect(metrics["classes"] == ["setosa", "versicolor", "virginica"])
        #expect(MLJSONValue.object(metrics).isFinite)
    }

    @Test("each class puts about 20% of its rows in the test part")
    func stratification() async throws {
        for name in ["iris", "wine", "breast_cancer"] {
            let dataset = try MLDataset.resolve("builtin:\(name)")
            let result = try await MLTrainer.train(dataset: dataset, configuration: quickConfiguration(epochs: 1))
            for (k, row) in result.evaluation.confusionMatrix.enumerated() {
                let total = dataset.labels.filter { $0 == k }.count
                let held = row.reduce(0, +)
                #expect(held == Int((Double(total) * 0.2).rounded()), "\(name) class \(dataset.classes[k]): \(held) of \(total)")
            }
            #expect(result.evaluation.trainRows + result.evaluation.testRows == dataset.count)
        }
    }

    @Test("the same seed gives the same weights; another seed another split")
    func determinism() async throws {
        let dataset = try MLDataset.resolve("builtin:wine")
        let first = try await MLTrainer.train(dataset: dataset, configuration: quickConfiguration())
        let second = try await MLTrainer.train(dataset: dataset, configuration: quickConfiguration())
        #expect(first.model == second.model)
        #expect(first.model.encoded() == second.model.encoded())
        #expect(first.evaluation == second.evaluation)
        var reseeded = quickConfiguration()
        reseeded.seed = 7
        let third = try await MLTrainer.train(dataset: dataset, configuration: reseeded)
        #expect(third.model.mean != first.model.mean, "a different seed should hold out different rows")
    }

    @Test("resuming from a checkpoint read back from JSON text ends exactly as an uninterrupted run")
    func resumeEqualsUninterrupted() async throws {
        let dataset = try MLDataset.resolve("builtin:iris")
        let configuration = quickConfiguration(epochs: 60, checkpointEvery: 10)
        var saved: [MLTrainingCheckpoint] = []
        var epochsSeen: [Int] = []
        let uninterrupted = try await MLTrainer.train(
            dataset: dataset, configuration: configuration,
            progress: { epochsSeen.append($0.epoch) },
            checkpoint: { saved.append($0); return false })
        #expect(saved.map(\.epoch) == [10, 20, 30, 40, 50, 60])
        #expect(epochsSeen == Array(1...60))

        // Stop at epoch 30 as a cancelled job would, then resume from what the store would hand back.
        var stoppedAt: MLTrainingCheckpoint?
        await #expect(throws: CancellationError.self) {
            _ = try await MLTrainer.train(dataset: dataset, configuration: configuration, checkpoint: { state in
                stoppedAt = state
                return state.epoch == 30
            })
        }
        let stored = try #require(stoppedAt).json
        let text = MLJSONValue.object(stored).jsonText
        let reread = try MLTrainingCheckpoint(json: MLJSONValue.parseObject(text, field: "checkpoint"))
        #expect(reread == stoppedAt)
        var resumedEpochs: [Int] = []
        let resumed = try await MLTrainer.train(
            dataset: dataset, configuration: configuration, resumingFrom: reread,
            progress: { resumedEpochs.append($0.epoch) })
        #expect(resumedEpochs == Array(31...60))
        #expect(resumed.resumedFromEpoch == 30)
        #expect(resumed.model == uninterrupted.model)
        #expect(resumed.model.encoded() == uninterrupted.model.encoded())
        #expect(resumed.evaluation == uninterrupted.evaluation)
        #expect(resumed.finalLoss == uninterrupted.finalLoss)
    }

    @Test("a checkpoint from other data or settings is refused")
    func checkpointMismatch() async throws {
        let iris = try MLDataset.resolve("builtin:iris")
        var last: MLTrainingCheckpoint?
        _ = try await MLTrainer.train(dataset: iris, configuration: quickConfiguration(epochs: 10),
                                      checkpoint: { last = $0; return false })
        let checkpoint = try #require(last)
        var otherSeed = quickConfiguration(epochs: 20)
        otherSeed.seed = 1
        await #expect(throws: MLTrainerError.self) {
            _ = try await MLTrainer.train(dataset: iris, configuration: otherSeed, resumingFrom: checkpoint)
        }
        let wine = try MLDataset.resolve("builtin:wine")
        do {
            _ = try await MLTrainer.train(dataset: wine, configuration: quickConfiguration(epochs: 20), resumingFrom: checkpoint)
            Issue.record("resuming on other data should fail")
        } catch let error as MLTrainerError {
            #expect(error.code == .checkpointMismatch)
            #expect(error.message.contains("data SHA-256"))
        }
        expectTrainerError(.checkpointMismatch) { try MLTrainingCheckpoint(json: ["format": "something else"]) }
    }

    @Test("a cancelled task stops training with CancellationError")
    func taskCancellation() async throws {
        let dataset = try MLDataset.resolve("builtin:iris")
        var configuration = MLTrainingConfiguration()
        configuration.epochs = 1_000_000
        let task = Task {
            try await MLTrainer.train(dataset: dataset, configuration: configuration)
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }

    @Test("settings out of range are refused with the field named")
    func invalidConfiguration() async throws {
        let dataset = try MLDataset.resolve("builtin:iris")
        var configuration = MLTrainingConfiguration()
        configuration.testFraction = 1
        do {
            _ = try await MLTrainer.train(dataset: dataset, configuration: configuration)
            Issue.record("a test fraction of 1 should be refused")
        } catch let error as MLTrainerError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message == "test_fraction must be strictly between 0 and 1, got 1.0")
        }
        let singletons = try MLDataset(csv: csv("x,label", "1,a", "2,b", "3,c"), source: "tiny.csv")
        do {
            _ = try await MLTrainer.train(dataset: singletons)
            Issue.record("a data set with one row per class leaves nothing to evaluate on")
        } catch let error as MLTrainerError {
            #expect(error.code == .tooFewRows)
        }
    }
}

@Suite("Training digits")
struct DigitsTrainingTests {
    @Test("digits (1797 × 64, 10 classes): held-out accuracy of at least 0.94 with the defaults")
    func digitsAccuracy() async throws {
        let result = try await MLTrainer.train(dataset: try MLDataset.resolve("builtin:digits"))
        #expect(result.evaluation.accuracy >= 0.94, "\(result.metrics)")
        #expect(result.evaluation.confusionMatrix.count == 10)
    }
}
