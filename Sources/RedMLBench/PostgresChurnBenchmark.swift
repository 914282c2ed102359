import Foundation
import PostgresNIO
import RedML
import RedMLPostgres

/// Table growth under job churn on PostgreSQL (`redml-bench queue --only
/// postgres-churn [--jobs N]`, default 100k): rounds of 10k no-op jobs
/// submitted in batches, drained by 64 worker slots (4 claim loops) and pruned, with the size of
/// the job table, its events and each `ml_kv` partition, and their dead rows, after every round.
/// With the job table vacuumed often and pruned space reused, they stay flat however many jobs
/// pass through.
struct PostgresChurnBenchmark: Sendable {
    let options: BenchOptions

    func run() async throws {
        guard let url = postgresURL(skipping: "postgres-churn") else { return }
        let total = options.jobs ?? (options.quick ? 20_000 : 100_000)
        let round = min(10_000, total)
        try await PostgresQueueBenchmark.withSchema(url: url) { store in
            let queue = MLJobQueue(store: store)
            var configuration = MLJobWorkers.Configuration()
            // 64 slots share 4 claim loops: about twice the drain rate of 8 (see BENCHMARKS.md),
            // which brings a million jobs within the hour.
            configuration.workerCount = 64
            var done = 0
            var sizes: [TableSizes] = []
            let started = ContinuousClock.now
            while done < total {
                let count = min(round, total - done)
                for start in stride(from: 0, to: count, by: 1_000) {
                    _ = try await queue.submitJobs((start..<min(count, start + 1_000)).map(QueueBenchmark.submission))
                }
                try await QueueBenchmark.drain(queue, count: count, configuration: configuration)
                let future = Date().addingTimeInterval(60)
                while try await queue.prune(finishedBefore: future, limit: 5_000) > 0 {}
                done += count
                let measured = try await TableSizes.measure(store.client, schema: store.schema)
                sizes.append(measured)
                note("postgres-churn: \(done) jobs in \(Int(QueueBenchmark.seconds(ContinuousClock.now - started))) s; \(measured)")
            }
            let seconds = QueueBenchmark.seconds(ContinuousClock.now - started)
            let label = "\(total / 1000)k"
            Figure.rate("queue", "postgres", "churn_submit_drain_prune_\(label)_jobs", Double(total) / seconds, total, target: nil).emit()
            if let first = sizes.first, let last = sizes.last {
                for (name, measured) in [("after_first_round", first), ("after_\(label)_jobs", last)] {
                    for table in TableSizes.tables {
                        Figure.mebibytes("queue", "postgres", "\(table)_\(name)", measured.bytes[table] ?? 0, target: "flat").emit()
                    }
                }
                for table in ["ml_job", "ml_job_event"] {
                    Figure.mebibytes("queue", "postgres", "\(table)_largest_of_\(sizes.count)_rounds",
                                     sizes.map { $0.bytes[table] ?? 0 }.max() ?? 0, target: nil).emit()
                }
            }
        }
    }
}

/// The on-disk size (table, indexes and TOAST) of the queue's tables, with their dead rows.
private struct TableSizes: CustomStringConvertible {
    /// The tables measured: the jobs, their events, and the key-value partitions (registry, blobs' records).
    static let tables = ["ml_job", "ml_job_event", "ml_kv_live", "ml_kv_rest"]
    var bytes: [String: Int] = [:]
    var dead: [String: Int] = [:]

    static func measure(_ client: PostgresClient, schema: String) async throws -> TableSizes {
        var sizes = TableSizes()
        let rows = try await client.query(
            """
            SELECT relname::text, pg_total_relation_size(relid), n_dead_tup FROM pg_stat_user_tables
            WHERE schemaname = \(schema) AND relname = ANY(\(tables))
            """)
        for try await (name, bytes, dead) in rows.decode((String, Int64, Int64).self) {
            sizes.bytes[name] = Int(bytes)
            sizes.dead[name] = Int(dead)
        }
        return sizes
    }

    var description: String {
        Self.tables.map { "\($0) \((bytes[$0] ?? 0) / 1024) KiB (\(dead[$0] ?? 0) dead rows)" }.joined(separator: ", ")
    }
}
