import RedMLCore
import RedMLPersistence

extension MLJob {
    /// Decodes a job record stored under `key`: with ``MLJSONReader`` when it
    /// reads the record exactly as `JSONDecoder` would, else with `JSONDecoder`,
    /// which also reports what is wrong with a corrupt record. A record whose
    /// id is not its key's is corrupt too.
    static func decodeStored(_ value: String, key: String) throws -> MLJob {
        let job = try readQuickly(value) ?? MLJSON.decode(MLJob.self, from: value, namespace: MLNamespace.jobs, key: key)
        // A record copied under another job's key would be listed, shown and changed as that other job.
        guard MLKey.parseJob(key) == job.id else {
            throw MLPersistenceError.corruptValue(namespace: MLNamespace.jobs, key: key,
                                                  reason: "record describes job \(job.key)")
        }
        return job
    }

    /// The job `value` holds, read with ``MLJSONReader``; `nil` when that
    /// reader leaves the record to `JSONDecoder`.
    static func readQuickly(_ value: String) -> MLJob? {
        try? MLJSONReader.read(value) { reader in
            let job = try MLJob(reading: &reader)
            try reader.expectEnd()
            return job
        }
    }

    /// Reads the stored form with the same defaults as ``init(from:)``. Throws
    /// ``MLJSONReader/Unsupported`` for whatever it would read differently:
    /// a required field missing or null, a key twice or unknown, a value of another type.
    private init(reading reader: inout MLJSONReader) throws {
        var id: UInt128?, kind: String?, target: String?, status: String?, createdAtMs: Int64?
        var progress: Double?, queue: String?, priority: Int?, attempt: Int?, failures: Int?, maxAttempts: Int?
        var error: String?, spec: MLJSONObject?, metrics: MLJSONObject?, checkpoint: MLJSONObject?
        var checkpointBytes: CheckpointBytes?, startedAtMs: Int64?, finishedAtMs: Int64?, runAtMs: Int64?
        var uniqueKey: String?, timeoutMs: Int64?, worker: String?, leaseExpiresAtMs: Int64?
        var cancelRequested: Bool?, leaseExpiries: Int?, eventCount: Int?, updatedAtMs: Int64?
        var seen: UInt32 = 0
        try reader.readObject { reader, key in
            /// Each field once: with a key twice, `JSONDecoder` decides which one counts.
            func first(_ bit: UInt32) throws {
                guard seen & (1 << bit) == 0 else { throw MLJSONReader.Unsupported() }
                seen |= 1 << bit
            }
            /// A required field: null is an error `JSONDecoder` reports.
            func present(_ reader: inout MLJSONReader) throws {
                if reader.readNull() { throw MLJSONReader.Unsupported() }
            }
            switch key.count {
            case 2 where key.spells("id"):
                try first(0)
                try present(&reader)
                guard let parsed = MLKey.parseJob(try reader.readString()) else { throw MLJSONReader.Unsupported() }
                id = parsed
            case 4 where key.spells("kind"):
                try first(1); try present(&reader); kind = try reader.readString()
            case 6 where key.spells("target"):
                try first(2); try present(&reader); target = try reader.readString()
            case 6 where key.spells("status"):
                try first(3); try present(&reader); status = try reader.readString()
            case 13 where key.spells("created_at_ms"):
                try first(4); try present(&reader); createdAtMs = try reader.readInt64()
            case 8 where key.spells("progress"):
                try first(5); progress = reader.readNull() ? nil : try reader.readDouble()
            case 5 where key.spells("queue"):
                try first(6); queue = reader.readNull() ? nil : try reader.readString()
            case 8 where key.spells("priority"):
                try first(7); priority = reader.readNull() ? nil : try reader.readInt()
            case 7 where key.spells("attempt"):
                try first(8); attempt = reader.readNull() ? nil : try reader.readInt()
            case 8 where key.spells("failures"):
                try first(9); failures = reader.readNull() ? nil : try reader.readInt()
            case 12 where key.spells("max_attempts"):
                try first(10); maxAttempts = reader.readNull() ? nil : try reader.readInt()
            case 5 where key.spells("error"):
                try first(11); error = reader.readNull() ? nil : try reader.readString()
            case 4 where key.spells("spec"):
                try first(12); spec = reader.readNull() ? nil : try reader.readObjectValue()
            case 7 where key.spells("metrics"):
                try first(13); metrics = reader.readNull() ? nil : try reader.readObjectValue()
            case 10 where key.spells("checkpoint"):
                try first(14); checkpoint = reader.readNull() ? nil : try reader.readObjectValue()
            case 16 where key.spells("checkpoint_bytes"):
                try first(15); checkpointBytes = reader.readNull() ? nil : try CheckpointBytes(reading: &reader)
            case 13 where key.spells("started_at_ms"):
                try first(16); startedAtMs = reader.readNull() ? nil : try reader.readInt64()
            case 14 where key.spells("finished_at_ms"):
                try first(17); finishedAtMs = reader.readNull() ? nil : try reader.readInt64()
            case 9 where key.spells("run_at_ms"):
                try first(18); runAtMs = reader.readNull() ? nil : try reader.readInt64()
            case 10 where key.spells("unique_key"):
                try first(19); uniqueKey = reader.readNull() ? nil : try reader.readString()
            case 10 where key.spells("timeout_ms"):
                try first(20); timeoutMs = reader.readNull() ? nil : try reader.readInt64()
            case 6 where key.spells("worker"):
                try first(21); worker = reader.readNull() ? nil : try reader.readString()
            case 19 where key.spells("lease_expires_at_ms"):
                try first(22); leaseExpiresAtMs = reader.readNull() ? nil : try reader.readInt64()
            case 16 where key.spells("cancel_requested"):
                try first(23); cancelRequested = reader.readNull() ? nil : try reader.readBool()
            case 14 where key.spells("lease_expiries"):
                try first(24); leaseExpiries = reader.readNull() ? nil : try reader.readInt()
            case 11 where key.spells("event_count"):
                try first(25); eventCount = reader.readNull() ? nil : try reader.readInt()
            case 13 where key.spells("updated_at_ms"):
                try first(26); updatedAtMs = reader.readNull() ? nil : try reader.readInt64()
            default:
                // A key this build does not know (a newer version's, a hand edit): `JSONDecoder` decides.
                throw MLJSONReader.Unsupported()
            }
        }
        guard let id, let kind, let target, let status, let createdAtMs,
            Status.known.contains(Status(rawValue: status))  // `JSONDecoder` names an unknown one
        else { throw MLJSONReader.Unsupported() }
        self.id = id
        self.kind = Kind(rawValue: kind)
        self.target = target
        self.status = Status(rawValue: status)
        self.progress = progress ?? 0
        self.queue = queue ?? "default"
        self.priority = priority ?? 0
        self.attempt = attempt ?? 0
        self.failures = failures ?? 0
        self.maxAttempts = maxAttempts ?? 1
        self.error = error
        self.spec = spec ?? [:]
        self.metrics = metrics
        self.checkpoint = checkpoint
        self.checkpointBytes = checkpointBytes
        self.createdAtMs = createdAtMs
        self.startedAtMs = startedAtMs
        self.finishedAtMs = finishedAtMs
        self.runAtMs = runAtMs ?? createdAtMs
        self.uniqueKey = uniqueKey
        self.timeoutMs = timeoutMs
        self.worker = worker
        self.leaseExpiresAtMs = leaseExpiresAtMs
        self.cancelRequested = cancelRequested ?? false
        self.leaseExpiries = leaseExpiries ?? 0
        self.eventCount = eventCount ?? 0
        self.updatedAtMs = updatedAtMs ?? createdAtMs
    }
}

extension MLJob.CheckpointBytes {
    /// Reads `{"sha256": …, "size": …}` as its synthesised `Decodable` conformance would.
    fileprivate init(reading reader: inout MLJSONReader) throws {
        var sha256: String?, size: Int64?
        try reader.readObject { reader, key in
            if key.spells("sha256") {
                guard sha256 == nil, !reader.readNull() else { throw MLJSONReader.Unsupported() }
                sha256 = try reader.readString()
            } else if key.spells("size") {
                guard size == nil, !reader.readNull() else { throw MLJSONReader.Unsupported() }
                size = try reader.readInt64()
            } else {
                throw MLJSONReader.Unsupported()
            }
        }
        guard let sha256, let size else { throw MLJSONReader.Unsupported() }
        self.init(sha256: sha256, size: size)
    }
}
