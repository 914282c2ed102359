import RedMLCore

extension MLNamespace {
    /// Queued jobs ready to run: `<queue>/<inverted priority>/<job key>`, so a
    /// prefix page returns a queue's jobs highest priority first, FIFO within one.
    public static let jobReady = "job_ready"
    /// Queued jobs waiting for their time: `<15-digit run-at ms>/<job key>`.
    public static let jobScheduled = "job_scheduled"
    /// Running jobs by lease expiry: `<15-digit expiry ms>/<job key>`.
    public static let jobLeases = "job_leases"
    /// Finished jobs by finish time, for retention: `<15-digit ms>/<job key>`.
    public static let jobFinished = "job_finished"
    /// Uniqueness keys of live jobs: `<unique key>` → job key.
    public static let jobUnique = "job_unique"
    /// Each job's transitions: `<job key>/<8-digit sequence>`.
    public static let jobHistory = "job_history"
}

/// The index keys a job is found under.
enum QueueKeys {
    static func ready(_ job: MLJob) -> String {
        "\(job.queue)/\(padded(Int64(1_000 - job.priority), 4))/\(job.key)"
    }

    static func readyPrefix(_ queue: String) -> String { queue + "/" }

    static func scheduled(_ job: MLJob) -> String { "\(padded(job.runAtMs, 15))/\(job.key)" }

    static func lease(_ expiresAtMs: Int64, _ job: MLJob) -> String { "\(padded(expiresAtMs, 15))/\(job.key)" }

    static func finished(_ job: MLJob) -> String { "\(padded(job.finishedAtMs ?? 0, 15))/\(job.key)" }

    static func event(_ job: MLJob, _ sequence: Int) -> String { event(key: job.key, sequence) }

    static func event(key: String, _ sequence: Int) -> String { "\(key)/\(padded(Int64(sequence), 8))" }

    /// The time (ms) and job id at the start and end of a time-ordered index key.
    static func parseTimed(_ key: String) -> (ms: Int64, id: UInt128)? {
        let parts = key.split(separator: "/")
        guard parts.count == 2, let ms = Int64(parts[0]), let id = MLKey.parseJob(String(parts[1])) else { return nil }
        return (ms, id)
    }

    /// The job id at the end of a ready key.
    static func parseReady(_ key: String) -> UInt128? {
        guard let slash = key.lastIndex(of: "/") else { return nil }
        return MLKey.parseJob(String(key[key.index(after: slash)...]))
    }

    static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(max(0, value))
        return String(repeating: "0", count: max(0, width - digits.utf8.count)) + digits
    }
}
