import Foundation
import RedML

/// The parts of a model record (`models/<name>`) that the demo reads.
///
/// The demo rewrites the record by merging into its raw JSON object (see
/// ``DemoModelRecord/updated(_:name:version:now:)``), so fields written by other
/// tools survive the read-modify-write.
struct DemoModelRecord: Decodable {
    /// The highest version allocated so far.
    var latestVersion: UInt32?

    enum CodingKeys: String, CodingKey {
        case latestVersion = "latest_version"
    }

    /// The model record's JSON after allocating `version`: `latest_version` and
    /// `active_version` become `version`, `updated_at_ms` becomes `now`, and a
    /// new record also gets `name`, `description` and `created_at_ms`.
    ///
    /// Field names match the `ml_models` SQLite view.
    static func updated(_ existing: MLEntry?, name: String, version: UInt32, now: UInt64) throws -> String {
        var object: [String: Any] = [:]
        if let existing {
            guard
                let parsed = try? JSONSerialization.jsonObject(with: Data(existing.value.utf8)),
                let dictionary = parsed as? [String: Any]
            else {
                throw MLPersistenceError.corruptValue(
                    namespace: MLNamespace.models, key: existing.key, reason: "model record is not a JSON object")
            }
            object = dictionary
        } else {
            object["name"] = name
            object["description"] = "Made by `redml demo`: one version per run."
            object["created_at_ms"] = now
        }
        object["latest_version"] = version
        object["active_version"] = version
        object["updated_at_ms"] = now
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// A model version record (`model_versions/<model>@v<version>`); field names
/// match the `ml_model_versions` SQLite view.
struct DemoModelVersionRecord: Codable {
    /// The model's name.
    var model: String
    /// The version number.
    var version: UInt32
    /// The SHA-256 of the weights blob.
    var weightsSHA256: String
    /// The weights' size in bytes.
    var weightsSize: Int64
    /// When the version was made, in milliseconds since 1970.
    var createdAtMilliseconds: UInt64
    /// Whether the version is archived.
    var archived: Bool
    /// The version's metrics; the demo records its run number.
    var metrics: [String: Double]
    /// The key of the job that made the version, if known.
    var jobID: String?
    /// What made the version, if known.
    var createdBy: String?

    enum CodingKeys: String, CodingKey {
        case model, version, archived, metrics
        case weightsSHA256 = "weights_sha256"
        case weightsSize = "weights_size"
        case createdAtMilliseconds = "created_at_ms"
        case jobID = "job_id"
        case createdBy = "created_by"
    }
}

/// A job record (`jobs/<32 hex digits>`); field names match the `ml_jobs` SQLite view.
struct DemoJobRecord: Codable {
    /// The job's key, ``MLKey/job(_:)`` of its id.
    var id: String
    /// What kind of work the job does.
    var kind: String
    /// What the job works on: here the model's name.
    var target: String
    /// `queued`, `running`, `completed`, `failed`, …
    var status: String
    /// Percent done, 0 to 100.
    var progress: Int
    /// When the job was created, in milliseconds since 1970.
    var createdAtMilliseconds: UInt64
    /// When the job started, in milliseconds since 1970.
    var startedAtMilliseconds: UInt64?
    /// When the job finished, in milliseconds since 1970.
    var finishedAtMilliseconds: UInt64?

    enum CodingKeys: String, CodingKey {
        case id, kind, target, status, progress
        case createdAtMilliseconds = "created_at_ms"
        case startedAtMilliseconds = "started_at_ms"
        case finishedAtMilliseconds = "finished_at_ms"
    }
}

extension Date {
    /// Milliseconds since 1970, for the `*_at_ms` fields.
    var unixMilliseconds: UInt64 {
        UInt64(max(0, (timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
