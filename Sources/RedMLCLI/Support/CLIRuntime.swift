import Foundation
import Logging
import Metrics
import RedML
import RedMLRuntime
import RedMLTrainer
import ServiceLifecycle

/// The runtime the `demo`, `train --wait`, `worker` and `serve` commands run:
/// the store's registry and queue, a worker pool with the built-in trainer.
enum CLIRuntime {
    /// The environment variable that sets the log level (`trace` … `critical`).
    static let logLevelVariable = "REDML_LOG_LEVEL"

    /// A logger for a command, at `REDML_LOG_LEVEL` or else `level`.
    static func logger(_ label: String, default level: Logger.Level) -> Logger {
        var logger = Logger(label: label)
        let configured = ProcessInfo.processInfo.environment[logLevelVariable].flatMap(logLevel(named:))
        logger.logLevel = configured ?? level
        return logger
    }

    /// A runtime over `store` with `workers` workers for each of `queues`
    /// (`default` when empty; `nil` workers: the worker pool's default) and
    /// the built-in `train` handler registered.
    static func make(
        store: any MLStore, workers: Int?, queues: [String] = [], heartbeat: Duration? = nil, logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil
    ) -> MLRuntime {
        var configuration = MLRuntime.Configuration()
        configuration.logger = logger
        if let heartbeat { configuration.workers.heartbeatInterval = heartbeat }
        configuration.metricsFactory = metricsFactory
        let workers = workers ?? configuration.workers.workerCount
        configuration.runsWorkers = workers > 0
        if queues.isEmpty || queues.contains("default") {
            configuration.workers.workerCount = workers
        } else {
            configuration.workers.workerCount = 0
        }
        for queue in queues where queue != "default" {
            configuration.workers.queues[queue] = workers
        }
        let runtime = MLRuntime(store: store, configuration: configuration)
        runtime.register(.train, MLTrainHandler(registry: runtime.registry, logger: logger).handler)
        return runtime
    }

    /// Runs `runtime` while `body` runs, then shuts it down gracefully.
    static func whileRunning<Result: Sendable>(
        _ runtime: MLRuntime, logger: Logger, _ body: () async throws -> Result
    ) async throws -> Result {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [runtime], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result
            do {
                result = try await body()
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    /// The log level `name` names, in any case (`TRACE` as well as `trace`).
    static func logLevel(named name: String) -> Logger.Level? {
        Logger.Level(rawValue: name.lowercased())
    }
}
