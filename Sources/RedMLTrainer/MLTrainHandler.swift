import Logging
import RedMLCore
import RedMLQueue
import RedMLRegistry

/// The built-in handler for `train` jobs: trains a softmax regression on the
/// spec's data (see ``MLTrainSpec``) and registers it as a new version of the
/// job's target model.
///
/// ```swift
/// workers.register(.train, MLTrainHandler(registry: registry, logger: logger).handler)
/// try await queue.submit(MLJobSubmission(kind: .train, target: "iris", spec: ["data": "builtin:iris"]))
/// ```
///
/// Progress goes from 0 to 95 over the epochs; the rest covers evaluation and
/// registration. A checkpoint is saved every `checkpoint_every` epochs, and
/// a later attempt (after a crash or shutdown) resumes from it and ends with
/// the same weights as an uninterrupted run. A cancel request stops the job
/// at the next epoch without registering anything.
///
/// The version records the hyperparameters, the metrics of ``MLTrainingResult/metrics``,
/// the data's SHA-256, the job id, `created_by` `redml-trainer`, and as parent
/// the version that was active when it was registered. The job's result is
/// those metrics plus `model`, `version`, `activated` and `resumed_from_epoch`. A bad spec, bad
/// data or a diverging run fail the job without retrying.
public struct MLTrainHandler: Sendable {
    /// The `created_by` of the versions this handler registers.
    public static let createdBy = "redml-trainer"

    /// Where versions are registered.
    public let registry: MLModelRegistry
    /// Where the handler logs restarts and registrations.
    public let logger: Logger

    /// Creates the handler; `logger` defaults to one that discards everything.
    public init(
        registry: MLModelRegistry,
        logger: Logger = Logger(label: "redml.trainer", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.registry = registry
        self.logger = logger
    }

    /// The handler to register with ``MLJobWorkers/register(_:_:)`` for ``MLJob/Kind/train``.
    public var handler: MLJobWorkers.Handler {
        { handle in try await self.run(handle) }
    }

    /// Runs one `train` job.
    public func run(_ handle: MLJobHandle) async throws -> MLJSONObject {
        let model = handle.job.target
        let spec: MLTrainSpec
        do {
            spec = try MLTrainSpec(json: handle.spec)
            _ = try await registry.contains(model: model)  // refuses a model name the registry would refuse, before training
        } catch let error as MLTrainerError {
            throw MLJobFailure("train job for model '\(model)': \(error.message)", retryable: false)
        } catch let error as MLRegistryError where error.code == .invalidArgument {
            throw MLJobFailure("train job: \(error.message)", retryable: false)
        }
        if let earlier = try await versionRegistered(by: handle, model: model) {
            // An earlier attempt registered the version but could not record the job's result.
            logger.info("the job already registered this version", metadata: ["model": "\(model)", "version": "\(earlier.version)"])
            return result(earlier.metrics, earlier, activated: spec.activate)
        }
        let dataset: MLDataset
        do {
            dataset = try MLDataset.resolve(spec.data, label: spec.label)
        } catch {
            throw MLJobFailure("train job for model '\(model)': \(error.message)", retryable: error.code == .unreadableFile)
        }
        let trained = try await train(dataset, spec: spec, handle: handle)
        guard !handle.isCancelled else { throw CancellationError() }
        return try await register(trained, dataset: dataset, spec: spec, handle: handle)
    }

    /// Trains, resuming from the job's checkpoint when it fits this data and spec.
    private func train(_ dataset: MLDataset, spec: MLTrainSpec, handle: MLJobHandle) async throws -> MLTrainingResult {
        var resume: MLTrainingCheckpoint?
        if let saved = handle.checkpoint {
            do {
                resume = try MLTrainingCheckpoint(json: saved)
            } catch {
                logger.warning("ignoring an unreadable checkpoint; training from the start",
                               metadata: ["job_id": "\(MLKey.job(handle.id))", "error": "\(error.message)"])
            }
        }
        do {
            return try await train(dataset, spec: spec, handle: handle, resume: resume)
        } catch let error as MLTrainerError where error.code == .checkpointMismatch && resume != nil {
            logger.warning("the checkpoint does not fit this data or spec; training from the start",
                           metadata: ["job_id": "\(MLKey.job(handle.id))", "error": "\(error.message)"])
            return try await train(dataset, spec: spec, handle: handle, resume: nil)
        }
    }

    private func train(
        _ dataset: MLDataset, spec: MLTrainSpec, handle: MLJobHandle, resume: MLTrainingCheckpoint?
    ) async throws -> MLTrainingResult {
        do {
            return try await MLTrainer.train(
                dataset: dataset, configuration: spec.configuration, resumingFrom: resume,
                progress: { handle.setProgress($0.fraction * 95) },
                checkpoint: { try await handle.checkpoint($0.json, progress: Double($0.epoch) / Double(spec.configuration.epochs) * 95) })
        } catch let error as MLTrainerError where error.code != .checkpointMismatch {
            throw MLJobFailure("train job for model '\(handle.job.target)': \(error.message)", retryable: false)
        }
    }

    private func register(
        _ trained: MLTrainingResult, dataset: MLDataset, spec: MLTrainSpec, handle: MLJobHandle
    ) async throws -> MLJSONObject {
        let model = handle.job.target
        let parent = try await activeVersion(of: model)
        var hyperparameters = trained.hyperparameters
        hyperparameters["data"] = .string(spec.data)
        hyperparameters["label"] = .string(dataset.labelColumn)
        hyperparameters["checkpoint_every"] = .int(Int64(spec.configuration.checkpointEvery))
        let registration = MLRegistration(
            model: model, hyperparameters: hyperparameters, metrics: trained.metrics,
            trainingDataSHA256: dataset.sha256, parentVersion: parent, createdBy: Self.createdBy,
            description: "softmax regression on \(dataset.source): \(dataset.count) rows, \(dataset.features.count) features, \(dataset.classes.count) classes",
            jobID: handle.id, activate: spec.activate)
        let version: MLModelVersion
        do {
            version = try await registry.register(registration, weights: trained.model.encoded())
        } catch let error as MLRegistryError where error.code == .invalidArgument {
            throw MLJobFailure("train job: \(error.message)", retryable: false)
        }
        logger.info("registered a trained version", metadata: [
            "model": "\(model)", "version": "\(version.version)",
            "accuracy": "\(trained.evaluation.accuracy)", "job_id": "\(MLKey.job(handle.id))",
        ])
        var result = result(trained.metrics, version, activated: spec.activate)
        result["resumed_from_epoch"] = .int(Int64(trained.resumedFromEpoch))
        return result
    }

    private func result(_ metrics: MLJSONObject, _ version: MLModelVersion, activated: Bool) -> MLJSONObject {
        var result = metrics
        result["model"] = .string(version.model)
        result["version"] = .int(Int64(version.version))
        result["activated"] = .bool(activated)
        return result
    }

    /// The model's active version number, or `nil` if the model or its active version does not exist.
    private func activeVersion(of model: String) async throws -> UInt32? {
        guard try await registry.contains(model: model) else { return nil }
        return try await registry.activeVersion(of: model)?.version
    }

    /// The version an earlier attempt of this job registered, if any.
    ///
    /// Not just the latest version: another registration may have landed
    /// after the attempt that was cut off, and a retry must still find its own.
    /// Versions are read newest first and the search stops at those made well
    /// before the job was submitted (a minute's allowance for clocks that
    /// differ between processes), so it reads only what came after the job.
    private func versionRegistered(by handle: MLJobHandle, model: String) async throws -> MLModelVersion? {
        guard try await registry.contains(model: model) else { return nil }
        let oldest = handle.job.createdAtMs - Self.clockAllowanceMs
        var query = MLVersionQuery(limit: 100, newestFirst: true)
        while true {
            let page = try await registry.versions(of: model, query)
            for version in page.versions {
                if version.jobID == handle.id { return version }
                if version.createdAtMs < oldest { return nil }
            }
            guard let cursor = page.nextCursor else { return nil }
            query.after = cursor
        }
    }

    /// How far the clocks of two processes sharing a store may differ.
    private static let clockAllowanceMs: Int64 = 60_000
}
