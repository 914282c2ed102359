import RedMLCore

/// Where a training run is, reported after every epoch.
public struct MLTrainingProgress: Hashable, Sendable {
    /// Epochs completed.
    public var epoch: Int
    /// Epochs the run will take in all.
    public var epochs: Int
    /// The training objective (mean cross-entropy plus the L2 penalty) before the last update.
    public var loss: Double

    /// Completed share of the run, 0...1.
    public var fraction: Double { epochs == 0 ? 1 : Double(epoch) / Double(epochs) }
}

/// What a finished training run produced.
public struct MLTrainingResult: Hashable, Sendable {
    /// The trained model.
    public var model: MLSoftmaxModel
    /// Its scores on the held-out rows.
    public var evaluation: MLEvaluation
    /// The settings used, as registry hyperparameters (with the L2 penalty actually used).
    public var hyperparameters: MLJSONObject
    /// The training objective at the last epoch.
    public var finalLoss: Double
    /// The epoch the run resumed from (0 for a fresh run).
    public var resumedFromEpoch: Int

    /// The registry metrics: ``MLEvaluation/json`` plus `train_loss`.
    public var metrics: MLJSONObject {
        var metrics = evaluation.json
        metrics["train_loss"] = .double(finalLoss)
        return metrics
    }
}

/// Trains softmax regression models on an ``MLDataset``.
///
/// ```swift
/// let result = try await MLTrainer.train(dataset: try MLDataset.resolve("builtin:iris"))
/// print(result.evaluation.accuracy)
/// ```
public enum MLTrainer {
    /// Trains a model: a stratified split seeded by `configuration.seed`,
    /// standardisation on the training part, full-batch Adam, then
    /// evaluation on the held-out part.
    ///
    /// - Parameters:
    ///   - resumingFrom: a checkpoint of an earlier run with the same data and
    ///     settings; training continues after its epoch and ends exactly as
    ///     the uninterrupted run would.
    ///   - progress: called after every epoch.
    ///   - checkpoint: called every `checkpointEvery` epochs and after the
    ///     last one; return `true` to stop (the run then throws `CancellationError`).
    /// - Throws: ``MLTrainerError`` (`invalid_configuration`, `too_few_rows`,
    ///   `checkpoint_mismatch`, `diverged`), `CancellationError` when the task
    ///   is cancelled (checked every epoch) or `checkpoint` returns `true`, and
    ///   whatever `checkpoint` throws.
    public static func train(
        dataset: MLDataset,
        configuration: MLTrainingConfiguration = MLTrainingConfiguration(),
        resumingFrom resume: MLTrainingCheckpoint? = nil,
        progress: (MLTrainingProgress) -> Void = { _ in },
        checkpoint: (MLTrainingCheckpoint) async throws -> Bool = { _ in false }
    ) async throws -> MLTrainingResult {
        try configuration.validate()
        let split = StratifiedSplit(labels: dataset.labels, classCount: dataset.classes.count,
                                    testFraction: configuration.testFraction, seed: configuration.seed)
        guard !split.test.isEmpty else {
            throw MLTrainerError(
                code: .tooFewRows,
                message: "\(dataset.source) has \(dataset.count) rows and no class with 2 or more, so none can be held out for evaluation",
                source: dataset.source)
        }
        let trainRows = split.train.map { dataset.rows[$0] }
        let standardizer = Standardizer(rows: trainRows, featureCount: dataset.features.count)
        let l2 = configuration.effectiveL2(trainRows: trainRows.count)
        var optimizer = SoftmaxOptimizer(
            rows: standardizer.flatten(trainRows), labels: split.train.map { dataset.labels[$0] },
            featureCount: dataset.features.count, classCount: dataset.classes.count,
            learningRate: configuration.learningRate, l2: l2)
        if let resume {
            try check(resume, dataset: dataset, configuration: configuration, l2: l2)
            optimizer.parameters = resume.parameters
            optimizer.firstMoment = resume.firstMoment
            optimizer.secondMoment = resume.secondMoment
            optimizer.steps = resume.epoch
        }
        let startEpoch = optimizer.steps
        var loss = Double.nan
        var lastCeded = ContinuousClock.now
        while optimizer.steps < configuration.epochs {
            try Task.checkCancellation()
            loss = optimizer.step()
            guard loss.isFinite, optimizer.parameters.allSatisfy(\.isFinite) else {
                throw MLTrainerError(
                    code: .diverged,
                    message: "training on \(dataset.source) diverged at epoch \(optimizer.steps) (loss \(loss)); lower learning_rate (\(configuration.learningRate))")
            }
            let epoch = optimizer.steps
            progress(MLTrainingProgress(epoch: epoch, epochs: configuration.epochs, loss: loss))
            if epoch % configuration.checkpointEvery == 0 || epoch == configuration.epochs {
                let state = MLTrainingCheckpoint(
                    epoch: epoch, dataSHA256: dataset.sha256, seed: configuration.seed,
                    testFraction: configuration.testFraction, learningRate: configuration.learningRate, l2: l2,
                    featureCount: dataset.features.count, classCount: dataset.classes.count,
                    parameters: optimizer.parameters, firstMoment: optimizer.firstMoment,
                    secondMoment: optimizer.secondMoment)
                if try await checkpoint(state) { throw CancellationError() }
            }
            try await cede(since: &lastCeded)
        }
        let model = try makeModel(optimizer, dataset: dataset, standardizer: standardizer)
        return MLTrainingResult(
            model: model,
            evaluation: MLEvaluation(model: model, dataset: dataset, rows: split.test, trainRows: split.train.count),
            hyperparameters: configuration.hyperparameters(trainRows: split.train.count),
            finalLoss: loss.isFinite ? loss : optimizer.objective(),
            resumedFromEpoch: startEpoch)
    }

    /// Lets other tasks run between epochs: a yield every epoch, and a short sleep once per
    /// ``cedeInterval`` of training.
    ///
    /// A yield alone is not enough where NIO's event loops run Swift Concurrency's jobs (`redml`
    /// installs them as the global executor): a loop runs every job it has before it polls its
    /// sockets again, and a yielded job is always one more, so a long training on a loop left its
    /// connections unanswered (`redml serve` did not answer /healthz while it trained). A sleep
    /// empties the loop's queue, so it polls.
    private static func cede(since last: inout ContinuousClock.Instant) async throws {
        guard last.duration(to: .now) >= cedeInterval else {
            await Task.yield()
            return
        }
        try await Task.sleep(for: .milliseconds(1))
        last = .now
    }

    /// How much training runs between two sleeps: at most a few percent of its time goes to them.
    static let cedeInterval: Duration = .milliseconds(50)

    private static func makeModel(
        _ optimizer: SoftmaxOptimizer, dataset: MLDataset, standardizer: Standardizer
    ) throws(MLTrainerError) -> MLSoftmaxModel {
        let f = dataset.features.count, c = dataset.classes.count
        let weights = (0..<c).map { k in Array(optimizer.parameters[(k * f)..<((k + 1) * f)]) }
        return try MLSoftmaxModel(
            features: dataset.features, classes: dataset.classes, mean: standardizer.mean, std: standardizer.std,
            weights: weights, bias: Array(optimizer.parameters[(c * f)...]))
    }

    /// Refuses a checkpoint that the same data and settings could not have produced.
    private static func check(
        _ resume: MLTrainingCheckpoint, dataset: MLDataset, configuration: MLTrainingConfiguration, l2: Double
    ) throws(MLTrainerError) {
        func mismatch(_ what: String, _ saved: String, _ now: String) -> MLTrainerError {
            MLTrainerError(code: .checkpointMismatch,
                           message: "cannot resume from the epoch \(resume.epoch) checkpoint: its \(what) is \(saved), this run's is \(now)")
        }
        if resume.dataSHA256 != dataset.sha256 { throw mismatch("data SHA-256", resume.dataSHA256, dataset.sha256) }
        if resume.featureCount != dataset.features.count || resume.classCount != dataset.classes.count {
            throw mismatch("shape", "\(resume.featureCount) features × \(resume.classCount) classes",
                           "\(dataset.features.count) × \(dataset.classes.count)")
        }
        if resume.seed != configuration.seed { throw mismatch("seed", "\(resume.seed)", "\(configuration.seed)") }
        if resume.testFraction != configuration.testFraction {
            throw mismatch("test fraction", "\(resume.testFraction)", "\(configuration.testFraction)")
        }
        if resume.learningRate != configuration.learningRate {
            throw mismatch("learning rate", "\(resume.learningRate)", "\(configuration.learningRate)")
        }
        if resume.l2 != l2 { throw mismatch("L2 penalty", "\(resume.l2)", "\(l2)") }
        if resume.epoch > configuration.epochs {
            throw mismatch("epoch", "\(resume.epoch)", "at most \(configuration.epochs) epochs")
        }
    }
}
