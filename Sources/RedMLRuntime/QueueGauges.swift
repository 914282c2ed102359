import Logging
import Metrics
import RedMLPersistence
import RedMLQueue
import Synchronization

/// Samples how many jobs wait and run, from the queue's live indexes (which
/// hold only live jobs, so a sample costs no more than the live jobs).
///
/// Gauges: `redml_jobs{status=queued|scheduled|running}` (queued: ready to
/// run now; scheduled: waiting for a run-at time or a retry backoff) and
/// `redml_queue_depth{queue=…}` (ready jobs per queue).
final class QueueGauges: Sendable {
    let store: any MLStore
    let limit: Int
    let factory: any MetricsFactory
    let logger: Logger
    /// Queues seen in any sample, so an emptied queue reports 0 rather than its last depth.
    private let seenQueues = Mutex<Set<String>>(["default"])

    init(store: any MLStore, limit: Int, factory: any MetricsFactory, logger: Logger) {
        self.store = store
        self.limit = limit
        self.factory = factory
        self.logger = logger
    }

    func sample() async {
        do {
            var depth: [String: Int] = [:]
            let ready: Int
            let scheduled: Int
            let running: Int
            if let table = store as? any MLJobTableStore {
                let counts = try await table.liveJobCounts()
                depth = counts.readyByQueue
                ready = depth.values.reduce(0, +)
                scheduled = counts.waiting
                running = counts.running
            } else {
                ready = try await count(MLNamespace.jobReady) { key in
                    // Ready keys start with the queue's name.
                    let queue = key.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
                    depth[queue, default: 0] += 1
                }
                scheduled = try await count(MLNamespace.jobScheduled)
                running = try await count(MLNamespace.jobLeases)
            }
            Gauge(label: "redml_jobs", dimensions: [("status", "queued")], factory: factory).record(ready)
            Gauge(label: "redml_jobs", dimensions: [("status", "scheduled")], factory: factory).record(scheduled)
            Gauge(label: "redml_jobs", dimensions: [("status", "running")], factory: factory).record(running)
            let queues = seenQueues.withLock { seen in
                seen.formUnion(depth.keys)
                return seen
            }
            for queue in queues {
                Gauge(label: "redml_queue_depth", dimensions: [("queue", queue)], factory: factory).record(depth[queue] ?? 0)
            }
        } catch {
            if !Task.isCancelled {  // cut short by shutdown: nothing to report
                logger.warning("sampling the queue gauges failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func count(_ namespace: String, _ each: (String) -> Void = { _ in }) async throws -> Int {
        var request = MLPageRequest(limit: 1_000)
        var total = 0
        while total < limit {
            let page = try await store.page(namespace: namespace, request)
            for entry in page.entries { each(entry.key) }
            total += page.entries.count
            guard let cursor = page.nextCursor else { break }
            request.after = cursor
        }
        return min(total, limit)
    }
}
