import Foundation
import RedML
import RedMLTrainer
import Testing

/// The `train` handler end to end: an in-memory store, a registry, a queue and workers.
@Suite("Train job handler")
struct HandlerTests {
    /// Everything a train job needs, over one fresh in-memory store.
    struct Stack {
        let registry: MLModelRegistry
        let queue: MLJobQueue
        let workers: MLJobWorkers

        /// `wrap` may put something around the train handler (to simulate a crashed attempt).
        init(
            store: InMemoryMLPersistence = InMemoryMLPersistence(),
            wrap: (@escaping MLJobWorkers.Handler) -> MLJobWorkers.Handler = { $0 }
        ) {
            registry = MLModelRegistry(store: store)
            queue = MLJobQueue(store: store)
            var configuration = MLJobWorkers.Configuration()
            configuration.workerCount = 1
            configuration.workerID = "trainer-test"
            configuration.gracePeriod = .seconds(5)
            configuration.backoff = MLRetryBackoff(base: .milliseconds(10), maximum: .milliseconds(10), jitter: 0)
            workers = MLJobWorkers(queue: queue, configuration: configuration)
            workers.register(.train, wrap(MLTrainHandler(registry: registry).handler))
        }

        /// Runs the workers beside `body`, then shuts them down.
        func withWorkers<R: Sendable>(_ body: @Sendable (Stack) async throws -> R) async throws -> R {
            try await withThrowingTaskGroup(of: R?.self) { group in
                group.addTask {
                    try await self.workers.run()
                    return nil
                }
                let result = try await body(self)
                workers.beginShutdown()
                try await group.waitForAll()
                return result
            }
        }

        func submit(_ model: String, _ spec: MLJSONObject) async throws -> UInt128 {
            try await queue.submit(MLJobSubmission(kind: .train, target: model, spec: spec))
        }
    }

    @Test("a train job on builtin:iris registers an active version with its metrics, hyperparameters, data SHA and job id")
    func trainsAndRegisters() async throws {
        let stack = Stack()
        let spec = MLTrainSpec(data: "builtin:iris", configuration: quickConfiguration(epochs: 100, checkpointEvery: 25))
        let (first, second) = try await stack.withWorkers { stack in
            let first = try await stack.submit("iris", spec.json)
            let done = try await waitForJob(stack.queue, first, "the first job to finish") { $0.status.isTerminal }
            #expect(done.status == .completed, "\(done.error ?? "")")
            // A second run makes version 2, whose parent is the then-active version 1.
            let second = try await stack.submit("iris", ["data": "builtin:iris", "epochs": 50, "activate": false])
            let again = try await waitForJob(stack.queue, second, "the second job to finish") { $0.status.isTerminal }
            #expect(again.status == .completed, "\(again.error ?? "")")
            return (done, again)
        }
        let iris = try MLDataset.resolve("builtin:iris")
        let version = try await stack.registry.version("iris", 1)
        #expect(version.jobID == first.id)
        #expect(version.trainingDataSHA256 == iris.sha256)
        #expect(version.createdBy == "redml-trainer")
        #expect(version.parentVersion == nil)
        #expect(version.hyperparameters["epochs"] == 100)
        #expect(version.hyperparameters["data"] == "builtin:iris")
        #expect(version.hyperparameters["label"] == "species")
        #expect(version.hyperparameters["seed"] == 42)
        #expect(version.metrics["test_rows"] == 30)
        #expect((version.metrics["accuracy"]?.doubleValue ?? 0) >= 0.9, "\(version.metrics)")
        #expect(version.metrics["confusion_matrix"] != nil)
        #expect(first.progress == 100)
        #expect(first.metrics?["model"] == "iris")
        #expect(first.metrics?["version"] == 1)
        #expect(first.metrics?["accuracy"] == version.metrics["accuracy"])
        #expect(first.checkpoint?["epoch"] == 100, "the last checkpoint is saved after the last epoch")

        let later = try await stack.registry.version("iris", 2)
        #expect(later.parentVersion == 1)
        #expect(later.jobID == second.id)
        #expect(try await stack.registry.activeVersion(of: "iris")?.version == 1, "activate: false leaves version 1 active")

        // The registered weights load and predict like the model trained directly.
        let loaded = try await MLSoftmaxModel.load(from: stack.registry, model: "iris")
        let direct = try await MLTrainer.train(dataset: iris, configuration: spec.configuration)
        #expect(loaded == direct.model)
        #expect(try await MLSoftmaxModel.load(from: stack.registry, model: "iris", version: 2) != loaded)
        #expect(try await MLSoftmaxModel.load(from: stack.registry, model: "iris", alias: "latest")
            == MLSoftmaxModel.load(from: stack.registry, model: "iris", version: 2))
    }

    @Test("a bad spec fails the job at once, naming the field")
    func badSpecFails() async throws {
        let stack = Stack()
        let cases: [(MLJSONObject, String)] = [
            ([:], "spec field 'data' must be a non-empty string"),
            (["data": "builtin:iris", "epoch": 5], "spec field 'epoch' is not a train spec field"),
            (["data": "builtin:iris", "epochs": "ten"], "spec field 'epochs' must be a whole number, got \"ten\""),
            (["data": "builtin:iris", "epochs": 0], "epochs must be 1...1000000, got 0"),
            (["data": "builtin:nope"], "no bundled data set 'nope'"),
            (["data": "builtin:iris", "label": "colour"], "no label column 'colour'"),
            (["data": "builtin:iris", "activate": "yes"], "spec field 'activate' must be true or false"),
        ]
        let jobs = try await stack.withWorkers { stack in
            var jobs: [MLJob] = []
            for (spec, _) in cases {
                let id = try await stack.submit("iris", spec)
                jobs.append(try await waitForJob(stack.queue, id, "the job with spec \(spec) to finish") { $0.status.isTerminal })
            }
            return jobs
        }
        for (job, (_, message)) in zip(jobs, cases) {
            #expect(job.status == .failed)
            #expect(job.attempt == 1, "a bad spec must not be retried")
            #expect(job.error?.contains(message) == true, "\(job.error ?? "no error"), expected \(message)")
            #expect(job.error?.hasPrefix("train job for model 'iris': ") == true)
        }
        #expect(try await stack.registry.contains(model: "iris") == false)
    }

    @Test("cancelling a running train job stops it without registering a version")
    func cancellation() async throws {
        let stack = Stack()
        let job = try await stack.withWorkers { stack in
            let id = try await stack.submit("iris", ["data": "builtin:iris", "epochs": 1_000_000, "checkpoint_every": 5])
            try await waitForJob(stack.queue, id, "a first checkpoint") { $0.checkpoint != nil }
            _ = try await stack.queue.cancel(id)
            return try await waitForJob(stack.queue, id, "the job to end") { $0.status.isTerminal }
        }
        #expect(job.status == .cancelled, "\(job.error ?? "")")
        let epoch = try #require(job.checkpoint?["epoch"]?.intValue)
        #expect(epoch > 0 && epoch < 1_000_000)
        #expect(try await stack.registry.contains(model: "iris") == false)
    }

    @Test("a job resumes from a checkpoint left by an earlier attempt and ends like an uninterrupted run")
    func resumesFromCheckpoint() async throws {
        let iris = try MLDataset.resolve("builtin:iris")
        let configuration = quickConfiguration(epochs: 80, checkpointEvery: 20)
        var halfway: MLTrainingCheckpoint?
        await #expect(throws: CancellationError.self) {
            _ = try await MLTrainer.train(dataset: iris, configuration: configuration, checkpoint: { state in
                halfway = state
                return state.epoch == 40
            })
        }
        let uninterrupted = try await MLTrainer.train(dataset: iris, configuration: configuration)
        let state = try #require(halfway).json
        // The first attempt saves the epoch 40 checkpoint and crashes; the second runs the real handler.
        let stack = Stack(wrap: { train in
            { handle in
                guard handle.attempt > 1 else {
                    try await handle.checkpoint(state, progress: 40)
                    throw MLJobFailure("simulated crash after the epoch 40 checkpoint")
                }
                return try await train(handle)
            }
        })
        let spec = MLTrainSpec(data: "builtin:iris", configuration: configuration).json
        let job = try await stack.withWorkers { stack in
            let id = try await stack.submit("iris", spec)
            return try await waitForJob(stack.queue, id, "the job to end") { $0.status.isTerminal }
        }
        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.attempt == 2)
        #expect(job.metrics?["resumed_from_epoch"] == 40)
        let loaded = try await MLSoftmaxModel.load(from: stack.registry, model: "iris", version: 1)
        #expect(loaded == uninterrupted.model)
    }

    @Test("a retry finds the version its cut-off attempt registered, though another registration landed after it")
    func retryFindsItsOwnVersionBelowANewerOne() async throws {
        let store = InMemoryMLPersistence()
        // The first attempt registers version 1 and is cut off before its result is recorded;
        // meanwhile an operator registers version 2 by hand.
        let stack = Stack(store: store, wrap: { train in
            { handle in
                let result = try await train(handle)
                guard handle.attempt > 1 else {
                    _ = try await MLModelRegistry(store: store).register(
                        MLRegistration(model: handle.job.target, createdBy: "operator"), weights: Data([1, 2, 3]))
                    throw MLJobFailure("simulated crash after registering")
                }
                return result
            }
        })
        let spec = MLTrainSpec(data: "builtin:iris", configuration: quickConfiguration(epochs: 20, checkpointEvery: 10))
        let job = try await stack.withWorkers { stack in
            let id = try await stack.submit("iris", spec.json)
            return try await waitForJob(stack.queue, id, "the job to end") { $0.status.isTerminal }
        }
        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.attempt == 2)
        #expect(job.metrics?["version"] == 1, "the retry reports the version its first attempt registered")
        let versions = try await stack.registry.allVersions(of: "iris")
        #expect(versions.map(\.version) == [1, 2], "no third version")
        #expect(versions.map(\.createdBy) == ["redml-trainer", "operator"])
        #expect(try await stack.registry.activeVersion(of: "iris")?.version == 2, "the operator's version stays active")
    }
}
