import Foundation
import Logging
import MetricsTestKit
import RedML
import RedMLRuntime
import RedMLTestFixtures
import RedMLTesting
import ServiceLifecycle
import Testing

/// MLRuntime: the registry, queue and workers over one store, run as a Service.
@Suite("Runtime")
struct RuntimeTests {
    @Test(arguments: Backends.allFixtures())
    func aHandlerRegistersAVersionThroughTheRuntime(_ fixture: MLStoreFixture) async throws {
        let runtime = MLRuntime(store: try await fixture.makeStore(), configuration: fastConfiguration())
        runtime.register(.train) { job in
            job.setProgress(50)
            let version = try await runtime.registry.register(
                MLRegistration(model: job.job.target, metrics: ["accuracy": 0.9], jobID: job.id),
                weights: Data("weights of \(job.job.target)".utf8))
            return ["version": .int(Int64(version.version))]
        }
        try await withRunningRuntime(runtime) {
            let id = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: "iris"))
            let job = try await waitForTerminal(runtime.queue, id)
            #expect(job.status == .completed)
            #expect(job.metrics?["version"]?.intValue == 1)
            let active = try #require(try await runtime.registry.activeVersion(of: "iris"))
            #expect(active.jobID == id)
            #expect(active.metrics["accuracy"]?.doubleValue == 0.9)
        }
    }

    /// The system clock, 30 s fast.
    struct FastClock: MLClock {
        var nowMs: Int64 { MLSystemClock().nowMs + 30_000 }
        func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
    }

    @Test("a runtime without workers keeps its queue's clock to the store server's, where the store has one",
          arguments: Backends.allFixtures())
    func aRuntimeWithoutWorkersAlignsTheClock(_ fixture: MLStoreFixture) async throws {
        let store = try await fixture.makeStore()
        var configuration = fastConfiguration()
        configuration.runsWorkers = false
        let clock = MLAlignedClock(base: FastClock())
        configuration.queue.clock = clock
        let metrics = TestMetrics()
        configuration.metricsFactory = metrics
        let runtime = MLRuntime(store: store, configuration: configuration)
        try await withRunningRuntime(runtime) {
            if store is any MLServerClock {
                // PostgreSQL: its server runs on this machine's time, 30 s behind the base clock.
                try await eventually("the offset to the server's clock") { abs(clock.offsetMs + 30_000) < 1_000 }
                #expect(abs(clock.nowMs - MLSystemClock().nowMs) < 1_000)
                let gauge = try metrics.expectGauge("redml_clock_offset_milliseconds").lastValue
                #expect(gauge.map { abs($0 + 30_000) < 1_000 } == true, "gauge \(String(describing: gauge))")
            } else {
                try await Task.sleep(for: .milliseconds(50))
                #expect(clock.offsetMs == 0)
            }
        }
    }

    @Test
    func gracefulShutdownLeavesQueuedJobsQueued() async throws {
        var configuration = fastConfiguration()
        configuration.workers.workerCount = 1
        configuration.workers.gracePeriod = .seconds(5)
        let runtime = MLRuntime(store: InMemoryMLPersistence(), configuration: configuration)
        let started = AsyncStream.makeStream(of: Void.self)
        runtime.register("slow") { job in
            started.continuation.yield()
            while !job.isCancelled && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
            return [:]
        }
        let running = try await runtime.queue.submit(MLJobSubmission(kind: "slow", target: "a"))
        let waiting = try await runtime.queue.submit(MLJobSubmission(kind: "slow", target: "b"))
        try await withRunningRuntime(runtime) {
            var iterator = started.stream.makeAsyncIterator()
            await iterator.next()
        }
        // The running job was interrupted back to the queue (no attempt used up); the other never ran.
        let first = try await runtime.queue.requireJob(running)
        #expect(first.status == .queued)
        #expect(first.failures == 0)
        let second = try await runtime.queue.requireJob(waiting)
        #expect(second.status == .queued)
        #expect(second.attempt == 0)
    }

    @Test
    func pruneFinishedJobsDeletesOnlyJobsOlderThanItsCutoff() async throws {
        let clock = MLManualClock(nowMs: 1_800_000_000_000)
        var configuration = fastConfiguration()
        configuration.queue.clock = clock
        let runtime = MLRuntime(store: InMemoryMLPersistence(), configuration: configuration)
        let (old, recent) = try await finishedAnHourApart(runtime, clock: clock)
        let pruned = await runtime.pruneFinishedJobs(olderThan: .seconds(1_800), clock: clock)
        #expect(pruned == 1)
        #expect(try await runtime.queue.job(old) == nil)
        let history = try await runtime.store.page(
            namespace: MLNamespace.jobHistory, MLPageRequest(prefix: MLKey.job(old) + "/"))
        #expect(history.entries.isEmpty)
        #expect(try await runtime.queue.job(recent)?.status == .cancelled)
    }

    /// The running runtime applies `finishedJobRetention` by itself: at start,
    /// then once per interval of the queue's clock.
    @Test
    func aRunningRuntimePrunesFinishedJobsAfterTheRetentionPeriod() async throws {
        let clock = MLManualClock(nowMs: 1_800_000_000_000)
        var configuration = fastConfiguration()
        configuration.runsWorkers = false
        configuration.queue.clock = clock
        configuration.finishedJobRetention = MLRuntime.JobRetention(keep: .seconds(1_800), interval: .seconds(600))
        let runtime = MLRuntime(store: InMemoryMLPersistence(), configuration: configuration)
        let (old, recent) = try await finishedAnHourApart(runtime, clock: clock)
        try await withRunningRuntime(runtime) {
            // The first pass runs when the runtime starts: only the job older than 30 minutes goes.
            try await eventually("the job finished an hour ago to be pruned") { try await runtime.queue.job(old) == nil }
            #expect(try await runtime.queue.job(recent)?.status == .cancelled, "a job inside the retention was pruned")
            // Later passes come every interval: 40 minutes on, the recent job is past its 30 minutes too.
            for _ in 0..<4 { clock.advance(by: .seconds(600)) }
            try await eventually("the recent job to be pruned at a later pass") {
                clock.advance(by: .seconds(1))  // a pass that read the time just before a move sleeps from it
                return try await runtime.queue.job(recent) == nil
            }
        }
        let history = try await runtime.store.page(namespace: MLNamespace.jobHistory, MLPageRequest())
        #expect(history.entries.isEmpty, "history left behind: \(history.entries.map(\.key))")
    }

    /// The running runtime removes a staged upload no registration committed
    /// (its writer was killed) once it is older than `garbageCollection`'s age,
    /// and leaves a younger one, which may still be uploading.
    @Test
    func aRunningRuntimeRemovesAbandonedUploads() async throws {
        let clock = MLManualClock(nowMs: Int64(Date().timeIntervalSince1970 * 1_000))
        var configuration = fastConfiguration()
        configuration.runsWorkers = false
        configuration.queue.clock = clock
        configuration.garbageCollection = MLRuntime.GarbageCollection(uploadsOlderThan: .seconds(3_600), interval: .seconds(600))
        let store = InMemoryMLPersistence()
        let runtime = MLRuntime(store: store, configuration: configuration)
        let upload = try await store.beginBlobUpload()
        try await store.appendBlobChunk(Data("cut off part way".utf8), index: 0, to: upload)
        /// Whether the upload is gone, without changing it: a wrong chunk index is refused either way, for a different reason.
        @Sendable func removed() async -> Bool {
            do {
                try await store.appendBlobChunk(Data(), index: 99, to: upload)
                return false
            } catch {
                return "\(error)".contains("is not open for writing")
            }
        }
        try await withRunningRuntime(runtime) {
            // The first pass runs at start; let a few more pass without moving past the age.
            for _ in 0..<5 {
                clock.advance(by: .seconds(600))
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(await removed() == false, "an upload 50 minutes old was removed")
            clock.advance(by: .seconds(600))
            try await eventually("the upload, now over an hour old, to be removed") {
                clock.advance(by: .seconds(1))
                return await removed()
            }
        }
    }

    /// Two finished (cancelled) jobs: `old`, then `recent` an hour later on `clock`.
    private func finishedAnHourApart(_ runtime: MLRuntime, clock: MLManualClock) async throws -> (old: UInt128, recent: UInt128) {
        let old = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: "old"))
        #expect(try await runtime.queue.cancel(old) == .cancelled)
        clock.advance(by: .seconds(3_600))
        let recent = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: "recent"))
        #expect(try await runtime.queue.cancel(recent) == .cancelled)
        return (old, recent)
    }

    @Test
    func metricsCountJobsRegistryChangesAndQueueDepth() async throws {
        let metrics = TestMetrics()
        var configuration = fastConfiguration()
        configuration.metricsFactory = metrics
        configuration.gaugeInterval = .milliseconds(20)
        configuration.workers.queues = ["gpu": 0]  // a queue nobody serves, so its jobs stay queued
        let runtime = MLRuntime(store: InMemoryMLPersistence(), configuration: configuration)
        runtime.register(.train) { job in
            try await runtime.registry.register(MLRegistration(model: job.job.target), weights: Data("w".utf8))
            return [:]
        }
        runtime.register("broken") { _ in throw MLJobFailure("no data", retryable: false) }
        try await withRunningRuntime(runtime) {
            let trained = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: "m"))
            let broken = try await runtime.queue.submit(MLJobSubmission(kind: "broken", target: "m"))
            _ = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: "later", queue: "gpu"))
            _ = try await runtime.queue.submit(MLJobSubmission(kind: .train, target: "later2", queue: "gpu"))
            #expect(try await waitForTerminal(runtime.queue, trained).status == .completed)
            #expect(try await waitForTerminal(runtime.queue, broken).status == .failed)
            // Both from a sample taken after the other jobs finished: an earlier one already
            // had the gpu queue's depth at 2, but the default queue's jobs still counted as queued.
            try await eventually("the gpu queue's depth and the queued gauge to read 2") {
                (try? metrics.expectGauge("redml_queue_depth", [("queue", "gpu")]).lastValue) == 2
                    && (try? metrics.expectGauge("redml_jobs", [("status", "queued")]).lastValue) == 2
            }
        }
        #expect(metrics.counterTotal(label: "redml_jobs_submitted_total", dimensions: [("kind", "train")]) == 3)
        #expect(metrics.counterTotal(label: "redml_job_attempts_total",
                                     dimensions: [("kind", "train"), ("outcome", "completed")]) == 1)
        #expect(metrics.counterTotal(label: "redml_job_attempts_total",
                                     dimensions: [("kind", "broken"), ("outcome", "failed")]) == 1)
        #expect(try metrics.expectTimer("redml_job_duration_seconds", [("kind", "train"), ("outcome", "completed")])
            .values.count == 1)
        #expect(metrics.counterTotal(label: "redml_registry_operations_total",
                                     dimensions: [("operation", "registered")]) == 1)
        #expect(metrics.counterTotal(label: "redml_registry_operations_total",
                                     dimensions: [("operation", "activated")]) == 1)
        #expect(try metrics.expectGauge("redml_jobs", [("status", "queued")]).lastValue == 2)
    }
}

// MARK: Support

/// Short heartbeats and polls, so tests do not wait on defaults meant for production.
func fastConfiguration() -> MLRuntime.Configuration {
    var configuration = MLRuntime.Configuration()
    configuration.workers.workerCount = 2
    configuration.workers.heartbeatInterval = .seconds(2)  // a lease of 4 s survives a loaded CI machine
    configuration.workers.pollInterval = .milliseconds(20)
    configuration.workers.gracePeriod = .seconds(2)
    configuration.finishedJobRetention = nil
    return configuration
}

/// Runs `runtime` in a ServiceGroup for the duration of `body`, then shuts it down gracefully.
func withRunningRuntime(_ runtime: MLRuntime, _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(
        configuration: ServiceGroupConfiguration(services: [runtime], logger: Logger(label: "test")))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// Polls until the job is terminal (failing after a generous real-time limit).
@discardableResult
func waitForTerminal(_ queue: MLJobQueue, _ id: UInt128, timeout: Duration = .seconds(30)) async throws -> MLJob {
    var last: MLJob?
    try await eventually("job \(id) to finish", timeout: timeout) {
        last = try await queue.job(id)
        return last?.status.isTerminal ?? false
    }
    return try #require(last)
}

struct TimedOut: Error {}

/// Checks `condition` every 10 ms until it holds; records an issue and throws after `timeout`.
func eventually(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while try await !condition() {
        if ContinuousClock.now >= deadline {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            throw TimedOut()
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
