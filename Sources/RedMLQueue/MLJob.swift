import Foundation
import RedMLCore

/// One job: what to run, where it stands, and what its current attempt holds.
///
/// Stored as JSON under ``MLKey/job(_:)`` in ``MLNamespace/jobs``. Every
/// transition rewrites the record in one atomic batch with the indexes that
/// find it (ready, scheduled, leased, finished) and a history event.
public struct MLJob: Hashable, Sendable {
    /// A job's place in its life cycle. `completed`, `failed` and `cancelled` are terminal.
    public struct Status: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        /// Creates a status from its stored name.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Waiting to run (now, or at ``MLJob/runAtMs``).
        public static let queued = Status(rawValue: "queued")
        /// Claimed by a worker that holds its lease.
        public static let running = Status(rawValue: "running")
        /// Finished successfully; ``MLJob/metrics`` holds the handler's result.
        public static let completed = Status(rawValue: "completed")
        /// Finished with an error after its last allowed attempt.
        public static let failed = Status(rawValue: "failed")
        /// Cancelled before or while it ran.
        public static let cancelled = Status(rawValue: "cancelled")

        /// Every status a job can have; a stored record with another is corrupt.
        public static let known: [Status] = [.queued, .running, .completed, .failed, .cancelled]

        /// Whether nothing changes the job any more.
        public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
    }

    /// What a job does; handlers are registered per kind.
    public struct Kind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
        ExpressibleByStringLiteral
    {
        public var rawValue: String
        /// Creates a kind; applications may register their own.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Creates a kind from a literal.
        public init(stringLiteral value: String) { rawValue = value }
        public var description: String { rawValue }

        /// Train a model.
        public static let train = Kind(rawValue: "train")
        /// Fill in a feature or embedding column for existing rows.
        public static let backfill = Kind(rawValue: "backfill")
        /// Recompute a feature.
        public static let featureRefresh = Kind(rawValue: "feature_refresh")
        /// Measure data or prediction drift.
        public static let driftCompute = Kind(rawValue: "drift_compute")
    }

    /// The job's id: UUIDv7-style, so ids sort by creation time.
    public var id: UInt128
    /// What the job does.
    public var kind: Kind
    /// The model, feature or embedding column it changes.
    public var target: String
    /// Where it stands.
    public var status: Status
    /// 0–100, as the handler last reported it.
    public var progress: Double
    /// The named queue it runs in.
    public var queue: String
    /// Higher runs first; FIFO within a priority.
    public var priority: Int
    /// How many times it has been claimed (the fencing number of the current claim).
    public var attempt: Int
    /// How many attempts failed (interruptions do not count).
    public var failures: Int
    /// Attempts allowed before the job fails for good.
    public var maxAttempts: Int
    /// The failure message, once it failed (or the last attempt's, while
    /// retrying); cleared when an attempt completes (the job's history keeps
    /// every failure).
    public var error: String?
    /// Opaque JSON the handler parses.
    public var spec: MLJSONObject
    /// Opaque JSON the handler returned.
    public var metrics: MLJSONObject?
    /// The handler's last checkpoint, handed back when the job resumes.
    public var checkpoint: MLJSONObject?
    /// The bytes saved with the last checkpoint, if it had any; they live in
    /// the blob store until the job reaches a terminal status.
    public var checkpointBytes: CheckpointBytes?
    /// Submission time, epoch ms.
    public var createdAtMs: Int64
    /// When the first attempt started, epoch ms.
    public var startedAtMs: Int64?
    /// When the job reached a terminal status, epoch ms.
    public var finishedAtMs: Int64?
    /// Not to run before this time, epoch ms (delayed jobs and retry backoff).
    public var runAtMs: Int64
    /// A duplicate submission with this key returns this job while it is live.
    public var uniqueKey: String?
    /// Each attempt is cancelled after this many milliseconds.
    public var timeoutMs: Int64?
    /// The worker holding the lease, while running.
    public var worker: String?
    /// When the lease runs out unless renewed, epoch ms.
    public var leaseExpiresAtMs: Int64?
    /// Whether someone asked a running job to stop.
    public var cancelRequested: Bool
    /// How many history events the job has.
    public var eventCount: Int
    /// When the record last changed, epoch ms.
    public var updatedAtMs: Int64
    /// How many times its lease ran out while it ran: its worker died or
    /// stalled. Such an interruption uses up no attempt, but at
    /// ``MLJobQueue/Configuration/maximumLeaseExpiries`` the job fails instead
    /// of running again, so a job that kills its worker cannot loop forever.
    public var leaseExpiries = 0

    /// How long the job ran, from first start to finish.
    public var duration: Duration? {
        guard let startedAtMs, let finishedAtMs else { return nil }
        return .milliseconds(finishedAtMs - startedAtMs)
    }

    /// The key the job is stored under.
    public var key: String { MLKey.job(id) }
}

extension MLJob: Codable {
    enum CodingKeys: String, CodingKey {
        case id, kind, target, status, progress, queue, priority, attempt, failures, error, spec, metrics, checkpoint,
            worker
        case checkpointBytes = "checkpoint_bytes"
        case maxAttempts = "max_attempts"
        case createdAtMs = "created_at_ms"
        case startedAtMs = "started_at_ms"
        case finishedAtMs = "finished_at_ms"
        case runAtMs = "run_at_ms"
        case uniqueKey = "unique_key"
        case timeoutMs = "timeout_ms"
        case leaseExpiresAtMs = "lease_expires_at_ms"
        case cancelRequested = "cancel_requested"
        case leaseExpiries = "lease_expiries"
        case eventCount = "event_count"
        case updatedAtMs = "updated_at_ms"
    }

    /// Decodes the stored form (the id as 32 hex digits).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let hex = try container.decode(String.self, forKey: .id)
        guard let id = MLKey.parseJob(hex) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "id must be 32 hex digits")
        }
        self.id = id
        kind = try container.decode(Kind.self, forKey: .kind)
        target = try container.decode(String.self, forKey: .target)
        status = try container.decode(Status.self, forKey: .status)
        guard Status.known.contains(status) else {
            throw DecodingError.dataCorruptedError(
                forKey: .status, in: container,
                debugDescription: "unknown status '\(status)' (expected \(Status.known.map(\.rawValue).joined(separator: ", ")))")
        }
        progress = try container.decodeIfPresent(Double.self, forKey: .progress) ?? 0
        queue = try container.decodeIfPresent(String.self, forKey: .queue) ?? "default"
        priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        attempt = try container.decodeIfPresent(Int.self, forKey: .attempt) ?? 0
        failures = try container.decodeIfPresent(Int.self, forKey: .failures) ?? 0
        maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 1
        error = try container.decodeIfPresent(String.self, forKey: .error)
        spec = try container.decodeIfPresent(MLJSONObject.self, forKey: .spec) ?? [:]
        metrics = try container.decodeIfPresent(MLJSONObject.self, forKey: .metrics)
        checkpoint = try container.decodeIfPresent(MLJSONObject.self, forKey: .checkpoint)
        checkpointBytes = try container.decodeIfPresent(CheckpointBytes.self, forKey: .checkpointBytes)
        createdAtMs = try container.decode(Int64.self, forKey: .createdAtMs)
        startedAtMs = try container.decodeIfPresent(Int64.self, forKey: .startedAtMs)
        finishedAtMs = try container.decodeIfPresent(Int64.self, forKey: .finishedAtMs)
        runAtMs = try container.decodeIfPresent(Int64.self, forKey: .runAtMs) ?? createdAtMs
        uniqueKey = try container.decodeIfPresent(String.self, forKey: .uniqueKey)
        timeoutMs = try container.decodeIfPresent(Int64.self, forKey: .timeoutMs)
        worker = try container.decodeIfPresent(String.self, forKey: .worker)
        leaseExpiresAtMs = try container.decodeIfPresent(Int64.self, forKey: .leaseExpiresAtMs)
        cancelRequested = try container.decodeIfPresent(Bool.self, forKey: .cancelRequested) ?? false
        leaseExpiries = try container.decodeIfPresent(Int.self, forKey: .leaseExpiries) ?? 0
        eventCount = try container.decodeIfPresent(Int.self, forKey: .eventCount) ?? 0
        updatedAtMs = try container.decodeIfPresent(Int64.self, forKey: .updatedAtMs) ?? createdAtMs
    }

    /// Encodes the stored form: the same JSON the queue writes.
    public func encode(to encoder: any Encoder) throws {
        try MLJSONValue.encodeStored(storedJSON, of: Self.self, to: encoder)
    }

    /// The stored JSON, written without `JSONEncoder` (see `MLJSONWriter`).
    var storedJSON: String {
        var writer = MLJSONWriter()
        writer.object { json in
            json.field("attempt", attempt)
            json.field("cancel_requested", cancelRequested)
            if let checkpoint { json.field("checkpoint", checkpoint) }
            if let checkpointBytes {
                json.key("checkpoint_bytes")
                json.object { bytes in
                    bytes.field("sha256", checkpointBytes.sha256)
                    bytes.field("size", checkpointBytes.size)
                }
            }
            json.field("created_at_ms", createdAtMs)
            json.field("error", error)
            json.field("event_count", eventCount)
            json.field("failures", failures)
            json.field("finished_at_ms", finishedAtMs)
            json.field("id", MLKey.job(id))
            json.field("kind", kind.rawValue)
            json.field("lease_expires_at_ms", leaseExpiresAtMs)
            // Written once it counts, so the records of jobs that never lost a lease keep their form.
            if leaseExpiries > 0 { json.field("lease_expiries", leaseExpiries) }
            json.field("max_attempts", maxAttempts)
            if let metrics { json.field("metrics", metrics) }
            json.field("priority", priority)
            json.key("progress")
            json.double(progress)
            json.field("queue", queue)
            json.field("run_at_ms", runAtMs)
            json.field("spec", spec)
            json.field("started_at_ms", startedAtMs)
            json.field("status", status.rawValue)
            json.field("target", target)
            json.field("timeout_ms", timeoutMs)
            json.field("unique_key", uniqueKey)
            json.field("updated_at_ms", updatedAtMs)
            json.field("worker", worker)
        }
        return writer.text
    }
}

extension MLJob {
    /// Where the bytes of a job's last checkpoint are: a blob of their own in
    /// the store, content-addressed by SHA-256 and verified when read back.
    ///
    /// The stored blob starts with a short header naming the job, so no other
    /// job or model version ever shares it and deleting it harms nobody else.
    public struct CheckpointBytes: Codable, Hashable, Sendable {
        /// The SHA-256 of the stored blob (header included), in lowercase hex.
        public var sha256: String
        /// The size of the checkpoint's bytes, without the header.
        public var size: Int64

        /// Creates a reference.
        public init(sha256: String, size: Int64) {
            self.sha256 = sha256
            self.size = size
        }
    }
}
