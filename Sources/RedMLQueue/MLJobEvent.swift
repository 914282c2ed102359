import Foundation
import RedMLCore

/// One transition in a job's append-only history.
///
/// Stored in `job_history` under `<job key>/<8-digit sequence>`, in the same
/// batch as the transition it records.
public struct MLJobEvent: Hashable, Sendable, Codable {
    /// The event's position in the job's history, from 1.
    public var sequence: Int
    /// When, epoch ms.
    public var atMs: Int64
    /// The status before.
    public var from: MLJob.Status?
    /// The status after.
    public var to: MLJob.Status
    /// The attempt (claim number) it happened in.
    public var attempt: Int
    /// The worker involved, if any.
    public var worker: String?
    /// Why: `submitted`, `claimed`, `completed`, `failed`, `retry`, `cancelled`,
    /// `cancel_requested`, `lease_expired`, `interrupted`, `timed_out`.
    public var reason: String
    /// Detail, such as an error message.
    public var detail: String?

    enum CodingKeys: String, CodingKey {
        case sequence, from, to, attempt, worker, reason, detail
        case atMs = "at_ms"
    }

    var storedJSON: String {
        var writer = MLJSONWriter()
        writer.object { json in
            json.field("at_ms", atMs)
            json.field("attempt", attempt)
            json.field("detail", detail)
            json.field("from", from?.rawValue)
            json.field("reason", reason)
            json.field("sequence", sequence)
            json.field("to", to.rawValue)
            json.field("worker", worker)
        }
        return writer.text
    }
}
