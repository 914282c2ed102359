import Foundation
import RedML
import Synchronization

/// The job queue end to end: no-op jobs through the worker pool in memory and
/// on SQLite, pickup latency on an idle queue, and restarting over a big store.
///
/// `--only memory|sqlite|latency|restart|postgres|postgres-latency|postgres-churn` (the postgres groups need `POSTGRES_URL`;
/// postgres-latency runs only the postgres group's pickup latency;
/// postgres-churn runs only when named, with `--jobs N`; restart takes `--jobs N` for its large
/// store, 100k by default). The 1M-job in-memory run
/// is measured at 100k (quick: 10k) to keep the run short, unless `--jobs N`
/// sets the size (`--only memory --jobs 1000000`); the figure names say the
/// size they were measured at.
struct QueueBenchmark: Sendable {
    let options: BenchOptions

    static let kind: MLJob.Kind = "bench"

    func run() async throws {
        if options.runs("memory") { try await measureMemory() }
        if options.runs("sqlite") { try await measureSQLite() }
        if options.runs("latency") { try await measureLatency() }
        if options.runs("restart") { try await measureRestart() }
        if options.runs("postgres") {
            try await PostgresQueueBenchmark(options: options).run()
        } else if options.only.contains("postgres-latency") {
            try await PostgresQueueBenchmark(options: options).runLatency()
        } else if options.only.contains("postgres-steady") {
            try await PostgresQueueBenchmark(options: options).runSteady()
        }
        // Long (minutes per 100k jobs): only when asked for by name.
        if options.only.contains("postgres-churn") { try await PostgresChurnBenchmark(options: options).run() }
    }

    private func emit(_ figure: Figure) { figure.emit() }

    /// The worker pool for the throughput runs: one slot per core (at least
    /// two), or `--workers N`.
    private var throughputWorkers: MLJobWorkers.Configuration {
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = options.workers ?? max(2, ProcessInfo.processInfo.activeProcessorCount)
        return configuration
    }

    // MARK: In memory

    private func measureMemory() async throws {
        var rates: [Double] = []
        var runRates: [Double] = []
        for _ in 0..<5 {
            let result = try await endToEnd(store: InMemoryMLPersistence(), count: 1_000, workers: throughputWorkers)
            rates.append(result.endToEndRate)
            runRates.append(result.runRate)
        }
        emit(.rate("queue", "memory", "e2e_noop_1k_jobs", median(of: rates), 1_000, target: ">= 150k jobs/s"))
        emit(.rate("queue", "memory", "run_noop_1k_jobs_after_submit", median(of: runRates), 1_000, target: nil))

        let count = options.jobs ?? (options.quick ? 10_000 : 100_000)
        let label = Self.label(count)
        let result = try await endToEnd(store: InMemoryMLPersistence(), count: count, workers: throughputWorkers)
        emit(.rate("queue", "memory", "submit_\(label)_jobs", result.submitRate, count, target: nil))
        emit(.rate("queue", "memory", "run_noop_\(label)_jobs_after_submit", result.runRate, count, target: nil))
        emit(.rate("queue", "memory", count == 1_000_000 ? "e2e_noop_1M_jobs" : "e2e_noop_\(label)_jobs_not_1M",
                   result.endToEndRate, count, target: ">= 100k jobs/s at 1M (measured at \(label))"))

        // Submitted while the workers run, as in service: a claim follows each submission.
        let steady = 20_000
        for backlog in [0, count] {
            let rate = try await submittedWhileRunning(count: steady, behind: backlog)
            emit(.rate("queue", "memory",
                       "e2e_noop_\(Self.label(steady))_jobs_submitted_while_running_behind_\(Self.label(backlog))_queued",
                       rate, backlog + steady, target: nil))
        }

        let wide = try await endToEnd(store: InMemoryMLPersistence(), count: count, workers: Self.wideWorkers, batched: true)
        emit(.rate("queue", "memory", "run_noop_\(label)_jobs_\(Self.wideWorkers.workerCount)_workers_after_submit",
                   wide.runRate, count, target: nil))
        emit(.rate("queue", "memory", "e2e_noop_\(label)_jobs_batched_submit_\(Self.wideWorkers.workerCount)_workers",
                   wide.endToEndRate, count, target: ">= 100k jobs/s at 1M (measured at \(label))"))
    }

    /// A job count as figure names spell it: `10k`, `1M`.
    static func label(_ count: Int) -> String {
        count >= 1_000_000 && count % 1_000_000 == 0 ? "\(count / 1_000_000)M"
            : count >= 1_000 && count % 1_000 == 0 ? "\(count / 1_000)k" : "\(count)"
    }

    // MARK: SQLite

    private func measureSQLite() async throws {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let count = options.quick ? 2_000 : 10_000
        let store = try SQLiteMLPersistence(path: folder.path("queue.sqlite"))
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 2
        let result = try await endToEnd(store: store, count: count, workers: configuration)
        try store.close()
        let label = "\(count / 1000)k"
        emit(.rate("queue", "sqlite", "submit_\(label)_jobs_one_caller", result.submitRate, count, target: nil))
        emit(.rate("queue", "sqlite", "run_noop_\(label)_jobs_2_workers_after_submit", result.runRate, count, target: nil))
        emit(.rate("queue", "sqlite", "e2e_noop_\(label)_jobs_2_workers", result.endToEndRate, count,
                   target: ">= 20k jobs/s"))

        // Many slots: claims take up to that many jobs per write, and completions that
        // arrive together share commits.
        for workers in [Self.wideWorkers, Self.widerWorkers] {
            let slots = workers.workerCount
            let wideStore = try SQLiteMLPersistence(path: folder.path("queue-\(slots).sqlite"))
            let wide = try await endToEnd(store: wideStore, count: count, workers: workers, batched: true)
            try wideStore.close()
            emit(.rate("queue", "sqlite", "run_noop_\(label)_jobs_\(slots)_workers_after_submit", wide.runRate, count,
                       target: nil))
            emit(.rate("queue", "sqlite", "e2e_noop_\(label)_jobs_batched_submit_\(slots)_workers", wide.endToEndRate,
                       count, target: ">= 20k jobs/s"))
        }
    }

    /// A pool of 32 slots: no-op handlers hold a slot for microseconds, so more
    /// slots mean bigger claims and group commits, not more threads.
    static var wideWorkers: MLJobWorkers.Configuration {
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 32
        return configuration
    }

    /// A pool of 256 slots, for the same reason: on SQLite, where every claim and
    /// group of completions is one transaction of the single writer, bigger groups
    /// still pay (measured: 32 slots 13.6–15.5k jobs/s end to end, 256 slots 20.8–22.3k).
    static var widerWorkers: MLJobWorkers.Configuration {
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 256
        return configuration
    }

    private struct EndToEnd {
        var submitSeconds: Double
        var runSeconds: Double
        var count: Int
        var submitRate: Double { Double(count) / submitSeconds }
        var runRate: Double { Double(count) / runSeconds }
        var endToEndRate: Double { Double(count) / (submitSeconds + runSeconds) }
    }

    /// Submits `count` no-op jobs, then runs workers until every one is completed.
    ///
    /// With `batched`, jobs are submitted a thousand per write (`submitJobs`)
    /// instead of one `submit` each.
    private func endToEnd(
        store: any MLStore, count: Int, workers: MLJobWorkers.Configuration, batched: Bool = false
    ) async throws -> EndToEnd {
        let queue = MLJobQueue(store: store)
        let submitSeconds = try await measure {
            if batched {
                try await Self.submitInBatches(queue, range: 0..<count)
            } else {
                for i in 0..<count {
                    try await queue.submit(Self.submission(i))
                }
            }
        }
        let runSeconds = try await measure {
            try await Self.drain(queue, count: count, configuration: workers)
        }
        let finished = try await store.list(namespace: MLNamespace.jobFinished).count
        precondition(finished == count, "\(finished) of \(count) jobs finished")
        return EndToEnd(submitSeconds: submitSeconds, runSeconds: runSeconds, count: count)
    }

    /// Queues `backlog` jobs, then starts the workers and submits `count`
    /// more, one at a time, while they run; returns jobs per second from the
    /// workers' start until every job has completed.
    private func submittedWhileRunning(count: Int, behind backlog: Int) async throws -> Double {
        let queue = MLJobQueue(store: InMemoryMLPersistence())
        try await Self.submitInBatches(queue, range: 0..<backlog)
        let workers = throughputWorkers
        let seconds = try await measure {
            async let drained: Void = Self.drain(queue, count: backlog + count, configuration: workers)
            for i in backlog..<(backlog + count) { try await queue.submit(Self.submission(i)) }
            try await drained
        }
        return Double(backlog + count) / seconds
    }

    /// Runs workers with a no-op handler until `count` jobs ran; returns once
    /// their completions are written (the pool's shutdown waits for them).
    static func drain(_ queue: MLJobQueue, count: Int, configuration: MLJobWorkers.Configuration) async throws {
        let workers = MLJobWorkers(queue: queue, configuration: configuration)
        let ran = Counter()
        workers.register(kind) { [weak workers] _ in
            if ran.increment() == count { workers?.beginShutdown() }
            return [:]
        }
        try await workers.run()
    }

    // MARK: Pickup latency

    private func measureLatency() async throws {
        let samples = 200
        do {
            let latencies = try await pickupLatencies(store: InMemoryMLPersistence(), samples: samples)
            emitLatency("memory", latencies)
        }
        do {
            let folder = try BenchFolder()
            defer { folder.remove() }
            let store = try SQLiteMLPersistence(path: folder.path("latency.sqlite"))
            let latencies = try await pickupLatencies(store: store, samples: samples)
            try store.close()
            emitLatency("sqlite", latencies)
        }
    }

    private func emitLatency(_ backend: String, _ latencies: PickupLatencies) {
        Self.emitLatency(backend, "pickup_latency_idle_same_process", latencies.fromSubmit,
                         targets: (p50: "p50 < 1 ms", p99: "p99 < 5 ms"))
        Self.emitLatency(backend, "pickup_latency_idle_same_process_after_commit", latencies.fromCommit,
                         targets: (p50: "p50 < 1 ms", p99: "p99 < 5 ms"))
    }

    /// Seconds from calling `submit` to the handler's start, and from `submit`
    /// returning (the job committed and visible) to the handler's start. The
    /// first includes the submit's own write; the second is the wait of a
    /// committed job for a worker. A start before `submit` returned counts as 0.
    struct PickupLatencies {
        var fromSubmit: [Double] = []
        var fromCommit: [Double] = []

        mutating func add(submitted: ContinuousClock.Instant, committed: ContinuousClock.Instant,
                          started: ContinuousClock.Instant) {
            fromSubmit.append(QueueBenchmark.seconds(started - submitted))
            fromCommit.append(max(0, QueueBenchmark.seconds(started - committed)))
        }
    }

    /// Emits the p50 and p99 of `latencies` (seconds) in ms, as `<figure>_p50` and `<figure>_p99`.
    static func emitLatency(_ backend: String, _ figure: String, _ latencies: [Double], targets: (p50: String, p99: String)) {
        let sorted = latencies.sorted()
        let p50 = sorted[sorted.count / 2]
        let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        for (name, value, target) in [("p50", p50, targets.p50), ("p99", p99, targets.p99)] {
            Figure(suite: "queue", backend: backend, figure: "\(figure)_\(name)",
                   value: (value * 1e5).rounded() / 100, unit: "ms", operations: latencies.count,
                   seconds: latencies.reduce(0, +), target: target).emit()
        }
    }

    /// Submits one job at a time to an idle pool and times submit → handler start.
    private func pickupLatencies(store: any MLStore, samples: Int) async throws -> PickupLatencies {
        let queue = MLJobQueue(store: store)
        let workers = MLJobWorkers(queue: queue, configuration: throughputWorkers)
        let (starts, continuation) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
        workers.register(Self.kind) { _ in
            continuation.yield(ContinuousClock.now)
            return [:]
        }
        let running = Task { try await workers.run() }
        var iterator = starts.makeAsyncIterator()
        var latencies = PickupLatencies()
        try await Task.sleep(for: .milliseconds(50))  // the claim loop finds nothing and waits
        for i in 0..<(samples + 10) {
            let submitted = ContinuousClock.now
            try await queue.submit(Self.submission(i))
            let committed = ContinuousClock.now
            guard let started = await iterator.next() else { break }
            if i >= 10 {  // the first few warm up
                latencies.add(submitted: submitted, committed: committed, started: started)
            }
            try await Task.sleep(for: .milliseconds(10))  // the completion is written and the pool is idle again
        }
        workers.beginShutdown()
        try await running.value
        continuation.finish()
        return latencies
    }

    // MARK: Restart

    /// Opens a big store (90% of its jobs finished, the rest queued), starts
    /// workers, and times until a newly submitted job has completed.
    private func measureRestart() async throws {
        let count = options.jobs ?? (options.quick ? 10_000 : 100_000)
        let small = try await restart(count: 1_000, rounds: 3)
        let large = try await restart(count: count, rounds: 3)
        let label = count >= 1_000_000 && count % 1_000_000 == 0 ? "\(count / 1_000_000)M" : "\(count / 1000)k"
        emit(.milliseconds("queue", "sqlite", "restart_\(label)_jobs_open", large.open,
                           target: nil))
        emit(.milliseconds("queue", "sqlite", "restart_\(label)_jobs_open_to_new_job_completed", large.total,
                           target: "< 0.5 s at 1M (measured at \(label))"))
        emit(.mebibytes("queue", "sqlite", "restart_\(label)_jobs_memory_growth", large.memoryGrowth,
                        target: "independent of finished jobs (compare 1k)"))
        emit(.milliseconds("queue", "sqlite", "restart_1k_jobs_open_to_new_job_completed", small.total, target: nil))
        emit(.mebibytes("queue", "sqlite", "restart_1k_jobs_memory_growth", small.memoryGrowth, target: nil))
    }

    private struct Restart {
        var open: Double
        var total: Double
        var memoryGrowth: Int
    }

    private func restart(count: Int, rounds: Int) async throws -> Restart {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let path = folder.path("restart.sqlite")
        let completed = count * 9 / 10
        do {
            let store = try SQLiteMLPersistence(path: path)
            let queue = MLJobQueue(store: store)
            // Up to 10k finished jobs really run; the rest of the finished ones are cancelled
            // while queued, which leaves them finished the same way (record, finished index,
            // history) at a rate that builds a million-job store in minutes, not hours.
            let run = min(completed, 10_000)
            note("building a queue of \(count) jobs: \(run) completed by workers, \(completed - run) cancelled, \(count - completed) queued…")
            try await Self.submitConcurrently(queue, range: 0..<run)
            var configuration = MLJobWorkers.Configuration()
            configuration.workerCount = 8
            try await Self.drain(queue, count: run, configuration: configuration)
            try await Self.submitAndCancel(queue, range: run..<completed)
            try await Self.submitInBatches(queue, range: completed..<count)
            try store.close()
        }
        var opens: [Double] = []
        var totals: [Double] = []
        var growths: [Int] = []
        for round in 0..<rounds {
            let baseline = ProcessMemory.resident
            let clock = ContinuousClock()
            let start = clock.now
            let store = try SQLiteMLPersistence(path: path)
            let queue = MLJobQueue(store: store)
            var configuration = MLJobWorkers.Configuration()
            configuration.workerCount = 2
            let workers = MLJobWorkers(queue: queue, configuration: configuration)
            workers.register(Self.kind) { _ in [:] }
            let running = Task { try await workers.run() }
            let opened = clock.now
            // Higher priority than the backlog, so it is the next job claimed.
            var submission = Self.submission(count + round)
            submission.priority = 1_000
            let id = try await queue.submit(submission)
            while try await queue.job(id)?.status != .completed {
                try await Task.sleep(for: .milliseconds(1))
            }
            let done = clock.now
            growths.append(ProcessMemory.resident - baseline)
            workers.beginShutdown()
            try await running.value
            try store.close()
            opens.append(Self.seconds(opened - start))
            totals.append(Self.seconds(done - start))
        }
        return Restart(open: median(of: opens), total: median(of: totals), memoryGrowth: growths.sorted()[growths.count / 2])
    }

    /// Submits the jobs of `range` a thousand per write.
    static func submitInBatches(_ queue: MLJobQueue, range: Range<Int>) async throws {
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 1_000) {
            let end = min(range.upperBound, start + 1_000)
            _ = try await queue.submitJobs((start..<end).map(submission))
        }
    }

    /// Submits the jobs of `range` in batches and cancels each from 8 concurrent callers.
    static func submitAndCancel(_ queue: MLJobQueue, range: Range<Int>) async throws {
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 8_000) {
            let end = min(range.upperBound, start + 8_000)
            var ids: [UInt128] = []
            for batch in stride(from: start, to: end, by: 1_000) {
                ids += try await queue.submitJobs((batch..<min(end, batch + 1_000)).map(submission)).map(\.id)
            }
            let all = ids
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<8 {
                    group.addTask {
                        for index in stride(from: caller, to: all.count, by: 8) {
                            guard try await queue.cancel(all[index]) == .cancelled else {
                                throw BenchError(code: "not_cancelled", message: "job \(MLKey.job(all[index])) was not cancelled")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// Submits the jobs of `range` from 8 concurrent callers, whose writes share group commits.
    static func submitConcurrently(_ queue: MLJobQueue, range: Range<Int>) async throws {
        let callers = 8
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    for i in stride(from: range.lowerBound + caller, to: range.upperBound, by: callers) {
                        try await queue.submit(submission(i))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    // MARK: Workload

    static func submission(_ i: Int) -> MLJobSubmission {
        MLJobSubmission(kind: kind, target: "model-\(i % 100)", spec: ["i": .int(Int64(i))])
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A thread-safe counter.
private final class Counter: Sendable {
    private let value = Mutex(0)

    /// Adds one and returns the new value.
    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}
