import RedMLCore
import RedMLQueue

/// The JSON the API answers with for jobs and their events.
enum QueueJSON {
    static func job(_ job: MLJob) -> MLJSONObject {
        [
            "id": .string(MLKey.job(job.id)),
            "kind": .string(job.kind.rawValue),
            "target": .string(job.target),
            "status": .string(job.status.rawValue),
            "progress": .double(job.progress),
            "queue": .string(job.queue),
            "priority": .int(Int64(job.priority)),
            "attempt": .int(Int64(job.attempt)),
            "failures": .int(Int64(job.failures)),
            "max_attempts": .int(Int64(job.maxAttempts)),
            "error": RegistryJSON.optional(job.error),
            "spec": .object(job.spec),
            "metrics": job.metrics.map(MLJSONValue.object) ?? .null,
            "created_at_ms": .int(job.createdAtMs),
            "started_at_ms": RegistryJSON.optional(job.startedAtMs),
            "finished_at_ms": RegistryJSON.optional(job.finishedAtMs),
            "run_at_ms": .int(job.runAtMs),
            "updated_at_ms": .int(job.updatedAtMs),
            "unique_key": RegistryJSON.optional(job.uniqueKey),
            "timeout_ms": RegistryJSON.optional(job.timeoutMs),
            "worker": RegistryJSON.optional(job.worker),
            "lease_expires_at_ms": RegistryJSON.optional(job.leaseExpiresAtMs),
            "cancel_requested": .bool(job.cancelRequested),
            "lease_expiries": .int(Int64(job.leaseExpiries)),
        ]
    }

    static func event(_ event: MLJobEvent) -> MLJSONObject {
        [
            "sequence": .int(Int64(event.sequence)),
            "at_ms": .int(event.atMs),
            "from": RegistryJSON.optional(event.from?.rawValue),
            "to": .string(event.to.rawValue),
            "attempt": .int(Int64(event.attempt)),
            "worker": RegistryJSON.optional(event.worker),
            "reason": .string(event.reason),
            "detail": RegistryJSON.optional(event.detail),
        ]
    }

    /// `{"id", "record", "problem"}`: the job's id (null when its key is not one), its record as
    /// namespace/key (`jobs/<id>`), and the string other listings name it with under `skipped`.
    static func setAside(_ job: MLSetAsideJob) -> MLJSONObject {
        ["id": RegistryJSON.optional(job.id.map(MLKey.job)), "record": .string(job.record),
         "problem": .string(job.problem.description)]
    }

    static func outcome(_ outcome: MLCancelOutcome) -> String {
        switch outcome {
        case .cancelled: "cancelled"
        case .requested: "requested"
        case .notCancellable: "not_cancellable"
        }
    }
}
