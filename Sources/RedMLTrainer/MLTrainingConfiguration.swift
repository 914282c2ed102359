import RedMLCore

/// How ``MLTrainer`` trains: the optimiser's settings, the split and the
/// checkpoint interval, each with a documented default.
///
/// The defaults are full-batch Adam for 200 epochs at learning rate 0.1, with
/// the L2 penalty scikit-learn's `C=1` implies (`1 / training rows`). On the
/// seed-42 split of the bundled data sets they match scikit-learn's
/// `LogisticRegression()` held-out accuracy on iris (0.933), wine (0.972) and
/// digits (0.969), and miss one of 113 rows on breast_cancer (0.973 against 0.982).
public struct MLTrainingConfiguration: Hashable, Sendable {
    /// Passes over the training rows (one Adam step each). Default 200.
    public var epochs: Int = 200
    /// Adam's step size. Default 0.1.
    public var learningRate: Double = 0.1
    /// The L2 penalty on the weights (not the biases), added to the mean
    /// cross-entropy as `l2 / 2 × Σ w²`. Default `nil`: `1 / training rows`,
    /// which is scikit-learn's `C = 1`.
    public var l2: Double?
    /// Seeds the split. Default 42.
    public var seed: UInt64 = 42
    /// The share of each class held out for evaluation, in (0, 1). Default 0.2.
    public var testFraction: Double = 0.2
    /// Epochs between checkpoints. Default 10.
    public var checkpointEvery: Int = 10

    /// The defaults.
    public init() {}

    /// The L2 penalty used for `trainRows` training rows.
    public func effectiveL2(trainRows: Int) -> Double {
        l2 ?? 1 / Double(max(1, trainRows))
    }

    /// Checks every setting's range.
    public func validate() throws(MLTrainerError) {
        func invalid(_ field: String, _ message: String) -> MLTrainerError {
            MLTrainerError(code: .invalidConfiguration, message: "\(field) \(message)", column: field)
        }
        guard (1...1_000_000).contains(epochs) else { throw invalid("epochs", "must be 1...1000000, got \(epochs)") }
        guard learningRate > 0, learningRate.isFinite, learningRate <= 10 else {
            throw invalid("learning_rate", "must be positive and at most 10, got \(learningRate)")
        }
        if let l2, !(l2 >= 0 && l2.isFinite) { throw invalid("l2", "must be zero or positive, got \(l2)") }
        guard testFraction > 0, testFraction < 1 else {
            throw invalid("test_fraction", "must be strictly between 0 and 1, got \(testFraction)")
        }
        guard checkpointEvery >= 1 else {
            throw invalid("checkpoint_every", "must be at least 1 epoch, got \(checkpointEvery)")
        }
    }

    /// The settings as registry hyperparameters, with the L2 penalty actually used.
    public func hyperparameters(trainRows: Int) -> MLJSONObject {
        [
            "algorithm": "softmax_regression",
            "optimizer": "adam",
            "epochs": .int(Int64(epochs)),
            "learning_rate": .double(learningRate),
            "l2": .double(effectiveL2(trainRows: trainRows)),
            "seed": .int(Int64(bitPattern: seed)),
            "test_fraction": .double(testFraction),
            "standardize": true,
        ]
    }
}
