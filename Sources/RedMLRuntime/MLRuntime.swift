import Foundation
import Logging
import Metrics
import RedMLCore
import RedMLPersistence
import RedMLQueue
import RedMLRegistry
import RedMLSQLite
import ServiceLifecycle

/// RedML embedded in an application: one store, the model registry and the
/// job queue over it, a worker pool with a handler per job kind, finished-job
/// retention, removal of abandoned weights uploads and queue gauges, run as
/// one swift-service-lifecycle `Service`.
///
/// ```swift
/// let runtime = try MLRuntime(sqlitePath: "redml.sqlite")
/// runtime.register(.train) { job in
///     job.setProgress(50)
///     return ["accuracy": 0.97]
/// }
/// let group = ServiceGroup(services: [runtime], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
///
/// ``run()`` returns after a graceful shutdown: workers stop claiming, running
/// jobs get ``MLJobWorkers/Configuration/gracePeriod`` to finish or
/// checkpoint, and queued jobs stay queued in the store.
public final class MLRuntime: Service, Sendable {
    /// The store everything lives in.
    public let store: any MLStore
    /// The model registry.
    public let registry: MLModelRegistry
    /// The job queue.
    public let queue: MLJobQueue
    /// The worker pool that runs the queue's jobs while ``run()`` runs.
    public let workers: MLJobWorkers
    /// The settings it was made with.
    public let configuration: Configuration

    /// A runtime over `store`. Nothing runs until ``run()``.
    public init(store: any MLStore, configuration: Configuration = Configuration()) {
        var queueConfiguration = configuration.queue
        queueConfiguration.logger = configuration.logger
        queueConfiguration.metricsFactory = configuration.metricsFactory ?? queueConfiguration.metricsFactory
        var registryConfiguration = configuration.registry
        registryConfiguration.logger = configuration.logger
        registryConfiguration.metricsFactory = configuration.metricsFactory ?? registryConfiguration.metricsFactory
        self.store = store
        self.configuration = configuration
        registry = MLModelRegistry(store: store, configuration: registryConfiguration)
        queue = MLJobQueue(store: store, configuration: queueConfiguration)
        workers = MLJobWorkers(queue: queue, configuration: configuration.workers)
    }

    /// A runtime over the SQLite file at `path`, created and migrated as needed.
    ///
    /// - Throws: ``MLPersistenceError`` when the file cannot be opened or was
    ///   written by a newer RedML.
    public convenience init(sqlitePath path: String, configuration: Configuration = Configuration()) throws {
        try self.init(store: SQLiteMLPersistence(path: path), configuration: configuration)
    }

    /// Registers the handler for jobs of `kind`, replacing an earlier one.
    public func register(_ kind: MLJob.Kind, _ handler: @escaping MLJobWorkers.Handler) {
        workers.register(kind, handler)
    }

    /// Runs the workers (unless ``Configuration/runsWorkers`` is off), the
    /// retention of finished jobs, the removal of abandoned uploads and the
    /// queue gauges until graceful shutdown.
    public func run() async throws {
        let logger = configuration.logger
        logger.info("RedML runtime starting", metadata: [
            "workers": "\(configuration.runsWorkers ? configuration.workers.workerCount : 0)",
        ])
        try await withThrowingDiscardingTaskGroup { group in
            if configuration.runsWorkers {
                group.addTask { try await self.workers.run() }
            }
            let sampler = QueueGauges(
                store: store, limit: configuration.gaugeCountLimit,
                factory: configuration.metricsFactory ?? MetricsSystem.factory, logger: logger)
            let retention = configuration.finishedJobRetention
            let clock = configuration.queue.clock
            group.addTask {
                await Self.every(self.configuration.gaugeInterval, clock: clock) { await sampler.sample() }
            }
            if !configuration.runsWorkers {
                // Workers keep the queue's clock to the store server's; without them (an API
                // server, say), this does, so the schedules of the jobs it submits are in that time.
                group.addTask {
                    await Self.every(MLJobQueue.clockAlignmentInterval, clock: clock) {
                        await self.queue.alignClockLoggingFailure()
                    }
                }
            }
            if let collection = configuration.garbageCollection {
                group.addTask {
                    await Self.every(collection.interval, clock: clock) {
                        await self.collectGarbage(uploadsOlderThan: collection.uploadsOlderThan, clock: clock)
                    }
                }
            }
            if let retention {
                group.addTask {
                    await Self.every(retention.interval, clock: clock) {
                        await self.pruneFinishedJobs(olderThan: retention.keep, clock: clock)
                    }
                }
            }
        }
        logger.info("RedML runtime stopped")
    }

    /// Deletes jobs that finished more than `keep` ago, a batch at a time; returns how many.
    ///
    /// - Parameter clock: the time to count from; default: the queue's clock.
    @discardableResult
    public func pruneFinishedJobs(olderThan keep: Duration, clock: (any MLClock)? = nil) async -> Int {
        let cutoff = time(age: keep, clock: clock)
        var total = 0
        do {
            while !Task.isCancelled {
                let deleted = try await queue.prune(finishedBefore: cutoff, limit: 500)
                total += deleted
                if deleted < 500 { break }
            }
        } catch {
            configuration.logger.warning("pruning finished jobs failed; retrying at the next interval",
                                         metadata: ["error": "\(error)"])
        }
        if total > 0 {
            configuration.logger.info("pruned finished jobs", metadata: ["count": "\(total)"])
        }
        return total
    }

    /// Removes staged uploads that started more than `age` ago and were never
    /// committed, and weights blobs no version uses (see
    /// ``MLModelRegistry/collectGarbage(uploadsStartedBefore:)``); a failure is
    /// logged and tried again at the next interval.
    ///
    /// - Parameter clock: the time to count from; default: the queue's clock.
    @discardableResult
    public func collectGarbage(uploadsOlderThan age: Duration, clock: (any MLClock)? = nil) async -> MLRegistryGarbageReport? {
        do {
            let report = try await registry.collectGarbage(uploadsStartedBefore: time(age: age, clock: clock))
            if report.abandonedUploads > 0 || report.unreferencedBlobs > 0 {
                configuration.logger.info("removed abandoned weights uploads and unused blobs", metadata: [
                    "uploads": "\(report.abandonedUploads)", "blobs": "\(report.unreferencedBlobs)",
                ])
            }
            return report
        } catch {
            configuration.logger.warning("removing abandoned weights uploads failed; retrying at the next interval",
                                         metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// The time `age` before now on `clock` (default: the queue's clock).
    private func time(age: Duration, clock: (any MLClock)?) -> Date {
        let ms = (clock ?? configuration.queue.clock).nowMs - age.milliseconds
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// Runs `body` now and then every `interval` of `clock` until graceful
    /// shutdown (or cancellation).
    private static func every(
        _ interval: Duration, clock: any MLClock, _ body: @escaping @Sendable () async -> Void
    ) async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await body()
                do { try await clock.sleep(for: interval) } catch { return }
            }
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}
