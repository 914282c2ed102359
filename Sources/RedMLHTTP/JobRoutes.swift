import Foundation
import Hummingbird
import RedMLCore
import RedMLQueue

extension MLHTTPAPI {
    /// `POST /v1/jobs`: submits a job; 201 with the job, or, for a live
    /// duplicate `unique_key`, 200 with the job that holds the key.
    func submitJob<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let body = try JSONFields(try await input.jsonObject() ?? [:], allowed: [
            "kind", "target", "spec", "priority", "queue", "max_attempts", "run_at", "unique_key", "timeout_seconds",
        ])
        var submission = MLJobSubmission(kind: MLJob.Kind(rawValue: try body.requiredString("kind")),
                                         target: try body.requiredString("target"))
        submission.spec = try body.object("spec") ?? [:]
        if let priority = try body.int("priority", in: -1_000...1_000) { submission.priority = Int(priority) }
        if let queue = try body.string("queue") { submission.queue = queue }
        if let attempts = try body.int("max_attempts", in: 1...1_000) { submission.maxAttempts = Int(attempts) }
        submission.runAt = try body.time("run_at")
        submission.uniqueKey = try body.string("unique_key")
        if let seconds = try body.number("timeout_seconds") {
            guard seconds > 0, seconds <= 366 * 86_400 else {
                throw MLHTTPError.invalidField("request body field 'timeout_seconds'", "must be above 0 and at most a year (31622400), got \(seconds)")
            }
            submission.timeout = .milliseconds(Int64((seconds * 1_000).rounded(.up)))
        }
        let (job, isDuplicate) = try await queue.submitJobOrFindDuplicate(submission)
        return JSONResponse.make(.object(QueueJSON.job(job)), status: isDuplicate ? .ok : .created)
    }

    /// `GET /v1/jobs?limit&cursor&order&status&kind&queue`, newest first by default;
    /// `status=set_aside` names the jobs set aside under `set_aside` (`jobs` is then empty).
    func listJobs<Context>(_ input: RequestInput<Context>) async throws -> Response {
        let query = try input.query(allowed: ["limit", "cursor", "order", "status", "kind", "queue"])
        var after: UInt128?
        if let cursor = query["cursor"] {
            guard let id = MLKey.parseJob(cursor) else {
                throw MLHTTPError.invalidField("query parameter 'cursor'", "'\(JSONFields.shown(cursor))' is not a cursor this list returned")
            }
            after = id
        }
        let status = try query["status"].map { raw throws(MLHTTPError) -> MLJob.Status in
            let status = MLJob.Status(rawValue: raw)
            let statuses = MLJob.Status.listingFilters.map(\.rawValue)
            guard statuses.contains(raw) else {
                throw MLHTTPError.invalidField(
                    "query parameter 'status'",
                    "must be \(statuses.dropLast().joined(separator: ", ")) or \(statuses.last ?? ""), got '\(JSONFields.shown(raw))'")
            }
            return status
        }
        for name in ["kind", "queue"] where query[name]?.isEmpty == true {
            // An empty filter would match no job, silently.
            throw MLHTTPError.invalidField("query parameter '\(name)'", "must not be empty")
        }
        let page = try await queue.jobs(MLJobQuery(
            after: after, limit: try query.limit(), oldestFirst: !(try query.newestFirst(default: true)), status: status,
            kind: query["kind"].map { MLJob.Kind(rawValue: $0) }, queue: query["queue"]))
        var fields: MLJSONObject = [
            "jobs": .array(page.jobs.map { .object(QueueJSON.job($0)) }),
            "next_cursor": RegistryJSON.optional(page.nextCursor.map(MLKey.job)),
        ]
        // Jobs the queue cannot run are named, not shown as jobs: their records cannot be trusted.
        if status == .setAside { fields["set_aside"] = .array(page.setAside.map { .object(QueueJSON.setAside($0)) }) }
        return JSONResponse.make(JSONResponse.page(fields, skipped: page.skipped))
    }

    /// `GET /v1/jobs/{id}`.
    func getJob<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let job = try await queue.requireJob(try input.jobID())
        return JSONResponse.make(.object(QueueJSON.job(job)))
    }

    /// `POST /v1/jobs/{id}/cancel`: `{"outcome": "cancelled" | "requested" | "not_cancellable", "job": …}`.
    func cancelJob<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let id = try input.jobID()
        _ = try JSONFields(try await input.jsonObject(optional: true) ?? [:], allowed: [])
        _ = try await queue.requireJob(id)  // an unknown job is a 404, not "not cancellable"
        let outcome = try await queue.cancel(id)
        let job = try await queue.requireJob(id)
        return JSONResponse.make(["outcome": .string(QueueJSON.outcome(outcome)), "job": .object(QueueJSON.job(job))])
    }

    /// `GET /v1/jobs/{id}/history`: every transition, oldest first. As in the
    /// other lists, an event that cannot be read is left out and named under
    /// `skipped`, rather than failing the whole history.
    func jobHistory<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let history = try await queue.historyReport(of: try input.jobID())
        return JSONResponse.make(JSONResponse.page(
            ["events": .array(history.events.map { .object(QueueJSON.event($0)) })], skipped: history.skipped))
    }
}
