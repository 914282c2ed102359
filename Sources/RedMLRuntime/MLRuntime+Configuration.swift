import Logging
import Metrics
import RedMLQueue
import RedMLRegistry

extension MLRuntime {
    /// The runtime's settings: one per part, each with a documented default.
    public struct Configuration: Sendable {
        /// The registry's settings. Default: ``MLModelRegistry/Configuration/init()``.
        public var registry = MLModelRegistry.Configuration()
        /// The queue's settings (clock, watch interval, maximum lease expiries). Default: ``MLJobQueue/Configuration/init()``.
        public var queue = MLJobQueue.Configuration()
        /// The worker pool's settings (worker count, heartbeat, grace period).
        /// Default: ``MLJobWorkers/Configuration/init()``: the core count minus one, 2 s heartbeats.
        public var workers = MLJobWorkers.Configuration()
        /// Whether ``MLRuntime/run()`` runs workers in this process. Default: `true`.
        /// Turn it off for a process that only serves the API or submits jobs.
        public var runsWorkers = true
        /// How long finished jobs are kept before the runtime deletes them with
        /// their history, and how often it looks. `nil` keeps them forever.
        /// Default: kept 7 days, checked every 10 minutes.
        public var finishedJobRetention: JobRetention? = JobRetention(keep: .seconds(7 * 24 * 3_600),
                                                                      interval: .seconds(600))
        /// How long a staged weights upload may stay uncommitted before the
        /// runtime removes it, with any weights blob no version uses, and how
        /// often it looks. A registration killed part way leaves its staged
        /// bytes behind; one still uploading is left alone until this age.
        /// `nil` leaves them. Default: removed after 24 hours, checked every hour.
        public var garbageCollection: GarbageCollection? = GarbageCollection(
            uploadsOlderThan: .seconds(24 * 3_600), interval: .seconds(3_600))
        /// How often the queue gauges (`redml_jobs`, `redml_queue_depth`) are sampled. Default: 5 s.
        public var gaugeInterval: Duration = .seconds(5)
        /// The most index entries one gauge sample counts per state; beyond it
        /// the gauge reports this number. Default: 100,000.
        public var gaugeCountLimit = 100_000
        /// Where the runtime's, registry's and queue's metrics go. Default:
        /// `nil`, the factory bootstrapped with `MetricsSystem.bootstrap` (if any).
        public var metricsFactory: (any MetricsFactory)?
        /// Where the runtime, registry and queue log. Default: a logger that discards everything.
        public var logger = Logger(label: "redml", factory: { _ in SwiftLogNoOpLogHandler() })

        /// The defaults.
        public init() {}
    }

    /// How long finished jobs are kept, and how often old ones are deleted.
    public struct JobRetention: Hashable, Sendable {
        /// How long after finishing a job is kept.
        public var keep: Duration
        /// How often the runtime deletes jobs older than ``keep``.
        public var interval: Duration

        /// Keeps finished jobs for `keep`, checking every `interval`.
        public init(keep: Duration, interval: Duration) {
            self.keep = keep
            self.interval = interval
        }
    }

    /// When staged uploads count as abandoned, and how often the runtime removes them.
    public struct GarbageCollection: Hashable, Sendable {
        /// How long after it started an uncommitted upload is removed.
        public var uploadsOlderThan: Duration
        /// How often the runtime looks.
        public var interval: Duration

        /// Removes uploads older than `uploadsOlderThan`, checking every `interval`.
        public init(uploadsOlderThan: Duration, interval: Duration) {
            self.uploadsOlderThan = uploadsOlderThan
            self.interval = interval
        }
    }
}
