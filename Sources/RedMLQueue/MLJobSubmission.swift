import Foundation
import RedMLCore
import RedMLPersistence

/// What to run: everything a submission may say about a job.
public struct MLJobSubmission: Hashable, Sendable {
    /// What the job does.
    public var kind: MLJob.Kind
    /// The model, feature or embedding column it changes.
    public var target: String
    /// Opaque JSON for the handler.
    public var spec: MLJSONObject
    /// Higher runs first, within -1000...1000. Default 0.
    public var priority: Int
    /// The named queue. Default `default`.
    public var queue: String
    /// Attempts allowed, at least 1. Default 3.
    public var maxAttempts: Int
    /// Not before this time; `nil` runs as soon as a worker is free.
    public var runAt: Date?
    /// While a job with this key is live, submitting again returns that job.
    public var uniqueKey: String?
    /// Each attempt is cancelled after this long; `nil` for no limit.
    public var timeout: Duration?

    /// Creates a submission.
    public init(
        kind: MLJob.Kind, target: String, spec: MLJSONObject = [:], priority: Int = 0, queue: String = "default",
        maxAttempts: Int = 3, runAt: Date? = nil, uniqueKey: String? = nil, timeout: Duration? = nil
    ) {
        self.kind = kind
        self.target = target
        self.spec = spec
        self.priority = priority
        self.queue = queue
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.uniqueKey = uniqueKey
        self.timeout = timeout
    }

    /// Checks a queue name as a submission's is checked (1–64 bytes of
    /// letters, digits, `_`, `-` and `.`), so a worker pool can refuse one that
    /// no job could ever be submitted to.
    public static func validateQueueName(_ queue: String) throws(MLJobError) {
        try QueueValidation.name(queue, "queue", limit: 64)
    }

    /// Checks everything that can be checked without the store, as a submit
    /// does first, so a caller can refuse a submission before it opens one.
    ///
    /// - Throws: ``MLJobError`` with code `invalid_argument`, naming the field.
    public func validate() throws(MLJobError) {
        try QueueValidation.name(kind.rawValue, "kind", limit: 64)
        try QueueValidation.name(queue, "queue", limit: 64)
        guard (1...1_024).contains(target.utf8.count), !target.unicodeScalars.contains(where: QueueValidation.isControl)
        else {
            throw .invalid("target must be 1–1024 bytes without control characters, got '\(target.prefix(60))'")
        }
        guard (-1_000...1_000).contains(priority) else {
            throw .invalid("priority must be within -1000...1000, got \(priority)")
        }
        guard (1...1_000).contains(maxAttempts) else {
            throw .invalid("max attempts must be 1...1000, got \(maxAttempts)")
        }
        if let uniqueKey {
            guard (1...255).contains(uniqueKey.utf8.count), !uniqueKey.unicodeScalars.contains(where: QueueValidation.isControl)
            else { throw .invalid("unique key must be 1–255 bytes without control characters") }
        }
        if let timeout, timeout <= .zero || timeout > .seconds(366 * 86_400) {
            throw .invalid("timeout must be positive and at most a year, got \(timeout)")
        }
        if let runAt, !(0...MLJobQueue.latestRunAtSeconds).contains(runAt.timeIntervalSince1970) {
            // In seconds since 1970: a `Date` past 9999 describes itself as `<description unavailable>`.
            throw .invalid("run-at must be within the years 1970…9999, got \(runAt.timeIntervalSince1970) s since 1970")
        }
        guard MLJSONValue.object(spec).isFinite else { throw .invalid("spec holds NaN or infinity, which JSON cannot represent") }
    }
}

/// What the queue reports when a call cannot be done.
public struct MLJobError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A stable, machine-readable kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// Creates a code.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No job has this id.
        public static let unknownJob = Code(rawValue: "unknown_job")
        /// An argument was refused; nothing was changed.
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// No handler is registered for the job's kind.
        public static let noHandler = Code(rawValue: "no_handler")
        /// This worker's lease on the job is gone (it expired and another worker
        /// claimed the job, or the job was finished elsewhere): stop working on it.
        public static let leaseLost = Code(rawValue: "lease_lost")
        /// The persistence layer failed; see ``underlying``.
        public static let persistence = Code(rawValue: "persistence")
        /// A checkpoint's bytes are missing from the blob store or fail verification.
        public static let checkpointCorrupt = Code(rawValue: "checkpoint_corrupt")
        /// A job's stored record cannot be read (not JSON, the wrong shape, another
        /// job's id), or is behind its history so that the queue cannot move the
        /// job on: damage behind the queue's back; ``underlying`` names the record
        /// and what is wrong with it.
        public static let jobCorrupt = Code(rawValue: "job_corrupt")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A message naming the job, field or value at fault.
    public var message: String
    /// The job concerned, if any.
    public var jobID: UInt128?
    /// The persistence error behind this one.
    public var underlying: MLPersistenceError?

    /// Creates an error.
    public init(code: Code, message: String, jobID: UInt128? = nil, underlying: MLPersistenceError? = nil) {
        self.code = code
        self.message = message
        self.jobID = jobID
        self.underlying = underlying
    }

    public var description: String { underlying.map { "\(message) (\($0))" } ?? message }

    static func invalid(_ message: String) -> Self { Self(code: .invalidArgument, message: message) }

    static func unknownJob(_ id: UInt128) -> Self {
        Self(code: .unknownJob, message: "unknown job \(MLKey.job(id))", jobID: id)
    }

    /// `job_corrupt` for job `id`, whose record `corruption` found damaged:
    /// unreadable, or behind its history, so that the queue cannot move it on.
    static func corrupt(_ id: UInt128, _ corruption: MLPersistenceError) -> Self {
        Self(code: .jobCorrupt, message: "the stored record of job \(MLKey.job(id)) is damaged", jobID: id,
             underlying: corruption)
    }
}

/// An error a handler throws to fail the attempt with control over retrying.
///
/// Any other error fails the attempt and is retried while attempts remain.
public struct MLJobFailure: Error, Sendable, CustomStringConvertible {
    /// The message recorded on the job.
    public var message: String
    /// Whether another attempt may help. `false` fails the job at once.
    public var retryable: Bool

    /// Creates a failure.
    public init(_ message: String, retryable: Bool = true) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}

enum QueueValidation {
    static func name(_ value: String, _ field: String, limit: Int) throws(MLJobError) {
        guard (1...limit).contains(value.utf8.count),
            value.utf8.allSatisfy(MLTextRules.isNameByte)
        else {
            throw .invalid("\(field) '\(value.prefix(80))' must be 1–\(limit) characters of letters, digits, '_', '-' and '.'")
        }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool { MLTextRules.isControl(scalar) }
}
