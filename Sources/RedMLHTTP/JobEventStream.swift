import Hummingbird
import RedMLCore
import RedMLQueue

extension MLHTTPAPI {
    /// `GET /v1/jobs/{id}/events`: Server-Sent Events of the job's state.
    ///
    /// Each change is one event: `status` when the status changed (the first
    /// event is always one), `progress` otherwise, with the job's JSON as data.
    /// The stream ends after the event carrying a terminal status; if the job
    /// disappears (pruned) it ends with an `error` event.
    func jobEvents<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let id = try input.jobID()
        _ = try await queue.requireJob(id)  // 404 before the stream starts
        let updates = queue.updates(of: id)
        let body = ResponseBody { writer in
            var sequence = 0
            var lastStatus: MLJob.Status?
            do {
                for try await job in updates {
                    sequence += 1
                    let kind = job.status == lastStatus ? "progress" : "status"
                    lastStatus = job.status
                    try await writer.write(Self.event(kind, id: sequence, data: .object(QueueJSON.job(job))))
                }
            } catch let error as MLJobError {
                sequence += 1
                try await writer.write(Self.event("error", id: sequence, data: ErrorMapping.httpError(for: error).body))
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: body)
    }

    /// One Server-Sent Event; compact JSON has no newlines, so `data` is one line.
    static func event(_ name: String, id: Int, data: MLJSONValue) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\nid: \(id)\ndata: \(data.jsonText)\n\n")
    }
}
