import Foundation
import PostgresNIO
import RedML
import RedMLPostgres
import Synchronization

/// The job queue on PostgreSQL (`redml-bench queue --only postgres`), against
/// the server of `POSTGRES_URL` (`scripts/postgres start` prints one), each
/// run in a schema of its own that is dropped afterwards:
///
/// - batched: 10k no-op jobs submitted 1,000 per write, then drained;
/// - one-row: 8 callers submit 5k jobs one per write, first alone, then while
///   the workers drain them;
/// - pickup latency: workers and submitter on separate pools (as separate
///   processes would be), so only `LISTEN`/`NOTIFY` can wake the idle workers
///   before their 1 s poll.
struct PostgresQueueBenchmark: Sendable {
    let options: BenchOptions

    func run() async throws {
        guard let url = postgresURL(skipping: "postgres") else { return }
        try await batched(url: url)
        try await oneRow(url: url)
        try await pickupLatency(url: url)
    }

    /// The pickup latency alone (`--only postgres-latency`).
    func runLatency() async throws {
        guard let url = postgresURL(skipping: "postgres-latency") else { return }
        try await pickupLatency(url: url)
    }

    /// The one-row steady state alone (`--only postgres-steady`).
    func runSteady() async throws {
        guard let url = postgresURL(skipping: "postgres-steady") else { return }
        try await oneRow(url: url)
    }

    private var workers: MLJobWorkers.Configuration {
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 8
        return configuration
    }

    private func batched(url: String) async throws {
        let count = options.quick ? 2_000 : 10_000
        try await Self.withSchema(url: url) { store in
            let queue = MLJobQueue(store: store)
            let submit = try await measure {
                for start in stride(from: 0, to: count, by: 1_000) {
                    _ = try await queue.submitJobs((start..<min(count, start + 1_000)).map(QueueBenchmark.submission))
                }
            }
            let drain = try await measure {
                try await QueueBenchmark.drain(queue, count: count, configuration: workers)
            }
            let label = "\(count / 1000)k"
            Figure.rate("queue", "postgres", "submit_\(label)_jobs_batches_of_1000", Double(count) / submit, count, target: nil).emit()
            Figure.rate("queue", "postgres", "drain_noop_\(label)_jobs_8_workers", Double(count) / drain, count,
                        target: ">= 10k jobs/s drained when inserted in batches").emit()
            Figure.rate("queue", "postgres", "e2e_noop_\(label)_jobs_batched", Double(count) / (submit + drain), count, target: nil).emit()
        }
        // Many slots: bigger claims, and completions that share commits (one WAL flush each).
        var wide = workers
        wide.workerCount = 64
        try await Self.withSchema(url: url) { store in
            let queue = MLJobQueue(store: store)
            for start in stride(from: 0, to: count, by: 1_000) {
                _ = try await queue.submitJobs((start..<min(count, start + 1_000)).map(QueueBenchmark.submission))
            }
            let drain = try await measure {
                try await QueueBenchmark.drain(queue, count: count, configuration: wide)
            }
            Figure.rate("queue", "postgres", "drain_noop_\(count / 1000)k_jobs_64_workers", Double(count) / drain, count,
                        target: ">= 10k jobs/s drained when inserted in batches").emit()
        }
    }

    private func oneRow(url: String) async throws {
        let count = options.quick ? 1_000 : 5_000
        // Submissions alone: 8 callers, one job per write, no workers.
        try await Self.withSchema(url: url) { store in
            let queue = MLJobQueue(store: store)
            let seconds = try await measure { try await QueueBenchmark.submitConcurrently(queue, range: 0..<count) }
            Figure.rate("queue", "postgres", "submit_\(count / 1000)k_jobs_one_row_8_callers", Double(count) / seconds, count,
                        target: nil).emit()
        }
        // Steady state: the same submissions while a pool of 8 slots, then of 64, runs them.
        var wide = workers
        wide.workerCount = 64
        for (pool, suffix) in [(workers, ""), (wide, "_64_workers")] {
            try await Self.withSchema(url: url) { store in
                let queue = MLJobQueue(store: store)
                let seconds = try await measure {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await QueueBenchmark.drain(queue, count: count, configuration: pool) }
                        group.addTask { try await QueueBenchmark.submitConcurrently(queue, range: 0..<count) }
                        try await group.waitForAll()
                    }
                }
                Figure.rate("queue", "postgres", "steady_noop_\(count / 1000)k_jobs_one_row_submits_8_callers\(suffix)",
                            Double(count) / seconds, count, target: ">= 2k jobs/s").emit()
            }
        }
    }

    private func pickupLatency(url: String) async throws {
        let samples = options.quick ? 50 : 200
        try await Self.withSchema(url: url) { workerStore in
            try await PostgresMLPersistence.withPersistence(url: url, schema: workerStore.schema, maximumConnections: 4) { clientStore in
                var configuration = workers
                configuration.pollInterval = .seconds(1)
                let pool = MLJobWorkers(queue: MLJobQueue(store: workerStore), configuration: configuration)
                let (starts, continuation) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
                pool.register(QueueBenchmark.kind) { _ in
                    continuation.yield(ContinuousClock.now)
                    return [:]
                }
                let client = MLJobQueue(store: clientStore)
                var latencies = QueueBenchmark.PickupLatencies()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await pool.run() }
                    var iterator = starts.makeAsyncIterator()
                    try await Task.sleep(for: .milliseconds(300))  // the workers find nothing and wait
                    for i in 0..<(samples + 10) {
                        let submitted = ContinuousClock.now
                        try await client.submit(QueueBenchmark.submission(i))
                        let committed = ContinuousClock.now
                        guard let started = await iterator.next() else { break }
                        if i >= 10 { latencies.add(submitted: submitted, committed: committed, started: started) }
                        try await Task.sleep(for: .milliseconds(20))  // idle again
                    }
                    pool.beginShutdown()
                    try await group.waitForAll()
                }
                continuation.finish()
                QueueBenchmark.emitLatency("postgres", "pickup_latency_idle_other_pool_notify", latencies.fromSubmit,
                                           targets: (p50: "p50 < 5 ms", p99: "p99 < 25 ms"))
                QueueBenchmark.emitLatency("postgres", "pickup_latency_idle_other_pool_notify_after_commit",
                                           latencies.fromCommit, targets: (p50: "p50 < 5 ms", p99: "p99 < 25 ms"))
            }
        }
    }

    /// Runs `body` with a store (20 connections) in a new schema, dropped afterwards.
    static func withSchema(url: String, _ body: (PostgresMLPersistence) async throws -> Void) async throws {
        let schema = "redml_bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await PostgresMLPersistence.withPersistence(url: url, schema: schema, maximumConnections: 20) { store in
            do {
                try await body(store)
            } catch {
                _ = try? await store.client.query("DROP SCHEMA \(unescaped: "\"\(schema)\"") CASCADE")
                throw error
            }
            try await store.client.query("DROP SCHEMA \(unescaped: "\"\(schema)\"") CASCADE")
        }
    }
}
