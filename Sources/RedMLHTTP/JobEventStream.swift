import Hummingbird
import RedMLCore
import RedMLQueue
import ServiceLifecycle

extension MLHTTPAPI {
    /// `GET /v1/jobs/{id}/events`: Server-Sent Events of the job's state.
    ///
    /// Each change is one event: `status` when the status changed (the first
    /// event is always one), `progress` otherwise, with the job's JSON as data.
    /// The stream ends after the event carrying a terminal status; if the job
    /// disappears (pruned), its record turns unreadable or the store fails, it
    /// ends with an `error` event whose data is the error body a request would get. While nothing
    /// changes, a comment line every ``Configuration/eventStreamHeartbeat``
    /// keeps it open; the server's graceful shutdown ends it.
    func jobEvents<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let id = try input.jobID()
        _ = try await queue.requireJob(id)  // 404 before the stream starts
        let updates = queue.updates(of: id)
        let heartbeat = max(configuration.eventStreamHeartbeat, .milliseconds(10))  // zero would spin
        let body = ResponseBody { writer in
            var sequence = 0
            var lastStatus: MLJob.Status?
            let (items, continuation) = AsyncStream.makeStream(of: StreamItem.self)
            // Without the shutdown handler an open stream would hold up the server's shutdown for
            // as long as its job runs; without heartbeats a client that left would never be noticed
            // while the job stays unchanged, and its stream would hold a connection until then.
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for try await job in updates { continuation.yield(.job(job)) }
                            continuation.yield(.ended(nil))
                        } catch {
                            continuation.yield(.ended(error))
                        }
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: heartbeat)
                            continuation.yield(.heartbeat)
                        }
                    }
                    events: for await item in items {
                        switch item {
                        case .job(let job):
                            sequence += 1
                            let kind = job.status == lastStatus ? "progress" : "status"
                            lastStatus = job.status
                            try await writer.write(Self.event(kind, id: sequence, data: .object(QueueJSON.job(job))))
                        case .heartbeat:
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        case .ended(nil):
                            break events
                        case .ended(let error?):
                            // The status line went out with the first event: the client learns why the
                            // stream ends from a last event (a pruned job, a record that turned
                            // unreadable, a store that failed), not from a connection cut short.
                            if !(error is MLJobError || error is CancellationError) {
                                logger.warning("a job's event stream ended with an error",
                                               metadata: ["job_id": "\(MLKey.job(id))", "error": "\(error)"])
                            }
                            sequence += 1
                            try await writer.write(Self.event("error", id: sequence, data: ErrorMapping.httpError(for: error).body))
                            break events
                        }
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                continuation.finish()
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: body)
    }

    /// What a job's event stream sends next.
    private enum StreamItem: Sendable {
        case job(MLJob)
        case heartbeat
        /// The job's updates ended: after a terminal status (`nil`) or with an error.
        case ended((any Error)?)
    }

    /// One Server-Sent Event; compact JSON has no newlines, so `data` is one line.
    static func event(_ name: String, id: Int, data: MLJSONValue) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\nid: \(id)\ndata: \(data.jsonText)\n\n")
    }
}
