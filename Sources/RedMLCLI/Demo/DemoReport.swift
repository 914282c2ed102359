import Foundation

/// What `redml demo` did: printed as text, or as one JSON object with `--json`.
struct DemoReport: Encodable {
    /// The weights as read back.
    struct Weights: Encodable {
        /// The SHA-256 the bytes were verified against.
        var sha256: String
        /// Bytes read.
        var size: Int64
        /// Chunks read.
        var chunks: Int
        /// Whether the bytes hashed to their SHA-256 (always true in a report:
        /// a mismatch fails the command).
        var verified: Bool
    }

    /// The store's path, or `memory:`.
    var store: String
    /// `sqlite` or `memory`.
    var backend: String
    /// The store's schema version; `nil` for `memory:`.
    var schemaVersion: Int?
    /// The model's name.
    var model: String
    /// The version this run made.
    var version: UInt32
    /// How many compare-and-swap attempts it took.
    var attempts: Int
    /// The model record's revision before this run; `nil` if it was new.
    var previousModelRevision: Int64?
    /// The revision the batch committed at.
    var revision: Int64
    /// The job record written.
    var job: DemoJobRecord
    /// The model version record written.
    var modelVersion: DemoModelVersionRecord
    /// The weights read back.
    var weights: Weights
    /// Every version of the model, in version order.
    var versions: [DemoModelVersionRecord]
    /// Version records that could not be read.
    var unreadableVersions: [String]
    /// The integrity check; `nil` for `memory:`.
    var integrity: IntegritySummary?
    /// How long the demo took.
    var elapsedMilliseconds: Int64

    enum CodingKeys: String, CodingKey {
        case store, backend, model, version, attempts, revision, job, weights, versions, integrity
        case schemaVersion = "schema_version"
        case previousModelRevision = "previous_model_revision"
        case modelVersion = "model_version"
        case unreadableVersions = "unreadable_versions"
        case elapsedMilliseconds = "elapsed_ms"
    }

    /// The report for people, one line per element.
    var lines: [String] {
        let schema = schemaVersion.map { ", schema \($0)" } ?? ""
        let cas = previousModelRevision.map { "models/\(model) was at r\($0)" } ?? "models/\(model) was absent"
        var lines = [
            "RedML demo on \(store) (\(backend)\(schema))",
            "1. allocated \(model) version \(version) by compare-and-swap (\(cas); "
                + "\(attempts) attempt\(attempts == 1 ? "" : "s"))",
            "2. committed one atomic batch at revision r\(revision):",
            "     weights blob   \(modelVersion.weightsSHA256.prefix(16))…  \(ByteCount.format(modelVersion.weightsSize))",
            "     model version  model_versions/\(model)@v\(version)",
            "     job            jobs/\(job.id)  \(job.kind) \(job.status) \(job.progress)%",
            "     model record   models/\(model)  latest_version \(version)",
            "3. read \(model)@v\(version) back: streamed \(ByteCount.format(weights.size)) in \(weights.chunks) "
                + "chunk\(weights.chunks == 1 ? "" : "s"), verified sha256 \(weights.sha256)",
            "4. versions of \(model) (\(versions.count)):",
        ]
        for entry in versions {
            let created = Date(timeIntervalSince1970: Double(entry.createdAtMilliseconds) / 1000)
            lines.append(
                "     v\(entry.version)  sha256 \(entry.weightsSHA256.prefix(16))…  "
                    + "\(ByteCount.format(entry.weightsSize))  \(created.formatted(.iso8601))"
                    + (entry.archived ? "  archived" : ""))
        }
        lines += unreadableVersions.map { "     unreadable: \($0)" }
        if let integrity {
            lines.append("5. integrity check: \(integrity.line)")
            lines += integrity.problems.map { "     problem \($0.code): \($0.message)" }
            lines.append("Done in \(elapsedMilliseconds) ms. Run it again to make version \(version + 1): it is all in \(store).")
        } else {
            lines.append("5. integrity check: skipped, a memory: store has nothing on disk to check")
            lines.append("Done in \(elapsedMilliseconds) ms. A memory: store keeps nothing; use a SQLite path to see versions persist.")
        }
        return lines
    }
}
