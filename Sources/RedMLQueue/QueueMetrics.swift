import Metrics

/// The queue's swift-metrics instruments. They report to the factory in the
/// queue's configuration, else to whatever metrics backend the application
/// bootstrapped (none by default); the library never bootstraps one itself.
struct QueueMetrics: Sendable {
    let factory: any MetricsFactory

    /// Instruments over `factory`. The rescue counter exists from the start, so
    /// a scrape shows `0` rather than nothing until the first rescue.
    init(factory: any MetricsFactory) {
        self.factory = factory
        _ = Counter(label: "redml_leases_rescued_total", factory: factory)
    }

    /// Jobs submitted, by kind.
    func submitted(_ job: MLJob) {
        Counter(label: "redml_jobs_submitted_total", dimensions: [("kind", job.kind.rawValue)], factory: factory).increment()
    }

    /// Jobs a worker claimed, by queue.
    func claimed(_ job: MLJob) {
        Counter(label: "redml_jobs_claimed_total", dimensions: [("queue", job.queue)], factory: factory).increment()
    }

    /// How an attempt ended (`completed`, `failed`, `retried`, `cancelled`,
    /// `interrupted`, `lease_lost`) and how long its handler ran, by kind.
    func attemptEnded(_ job: MLJob, outcome: String, durationNanoseconds: Int64) {
        let dimensions = [("kind", job.kind.rawValue), ("outcome", outcome)]
        Counter(label: "redml_job_attempts_total", dimensions: dimensions, factory: factory).increment()
        Timer(label: "redml_job_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds,
              factory: factory)
            .recordNanoseconds(durationNanoseconds)
    }

    /// What the queue adds to this machine's clock to keep to the store
    /// server's, in milliseconds, as of the last alignment.
    func clockAligned(offsetMs: Int64) {
        Gauge(label: "redml_clock_offset_milliseconds", factory: factory).record(offsetMs)
    }

    /// Jobs whose lease expired and that a live process requeued (or cancelled).
    func rescued(_ count: Int) {
        guard count > 0 else { return }
        Counter(label: "redml_leases_rescued_total", factory: factory).increment(by: count)
    }
}
