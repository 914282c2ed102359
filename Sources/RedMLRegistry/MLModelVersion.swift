import Foundation
import RedMLCore

/// One registered version of a model. Immutable once registered, except for
/// its archived flag, its description and tags, and whether its weights were
/// deleted by retention.
///
/// Stored under ``MLKey/modelVersion(_:_:)`` in ``MLNamespace/modelVersions``.
/// Reading a version never reads its weights; use
/// ``MLModelRegistry/weights(of:version:)`` for those.
public struct MLModelVersion: Hashable, Sendable {
    /// The model's name.
    public var model: String
    /// The version number, from 1.
    public var version: UInt32
    /// Whether the version is archived: readable for audits, but not activatable.
    public var archived: Bool
    /// The weights' address in the blob store and their size.
    public var weights: MLWeightsReference
    /// Training hyperparameters.
    public var hyperparameters: MLJSONObject
    /// Evaluation metrics.
    public var metrics: MLJSONObject
    /// Lowercase hex SHA-256 of the training data, if the trainer recorded it.
    public var trainingDataSHA256: String?
    /// The query (SQL or other) that produced the training data.
    public var trainingQuery: String?
    /// The version this one was fine-tuned from.
    public var parentVersion: UInt32?
    /// When the version was registered, in milliseconds since 1970.
    public var createdAtMs: Int64
    /// Who registered it.
    public var createdBy: String?
    /// Free text about the version.
    public var description: String?
    /// Key–value tags.
    public var tags: [String: String]
    /// The id of the job that produced the version.
    public var jobID: UInt128?

    /// When the version was registered.
    public var createdAt: Date { Date(epochMilliseconds: createdAtMs) }
    /// The key the version is stored under.
    public var key: String { MLKey.modelVersion(model, version) }
}

/// Where a version's weights are: their SHA-256 address and size.
public struct MLWeightsReference: Hashable, Sendable, Codable {
    /// Lowercase hex SHA-256 of the weights.
    public var sha256: String
    /// Size in bytes.
    public var size: Int64
    /// Whether retention deleted the weights (the version record stays).
    public var deleted: Bool

    /// Creates a reference.
    public init(sha256: String, size: Int64, deleted: Bool = false) {
        self.sha256 = sha256
        self.size = size
        self.deleted = deleted
    }
}

extension MLModelVersion: Codable {
    enum CodingKeys: String, CodingKey {
        case model, version, archived, hyperparameters, metrics, description, tags
        case weightsSHA256 = "weights_sha256"
        case weightsSize = "weights_size"
        case weightsDeleted = "weights_deleted"
        case trainingDataSHA256 = "training_data_sha256"
        case trainingQuery = "training_query"
        case parentVersion = "parent_version"
        case createdAtMs = "created_at_ms"
        case createdBy = "created_by"
        case jobID = "job_id"
    }

    /// Decodes the stored form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(String.self, forKey: .model)
        version = try container.decode(UInt32.self, forKey: .version)
        archived = try container.decodeIfPresent(Bool.self, forKey: .archived) ?? false
        weights = MLWeightsReference(
            sha256: try container.decode(String.self, forKey: .weightsSHA256),
            size: try container.decode(Int64.self, forKey: .weightsSize),
            deleted: try container.decodeIfPresent(Bool.self, forKey: .weightsDeleted) ?? false)
        hyperparameters = try container.decodeIfPresent(MLJSONObject.self, forKey: .hyperparameters) ?? [:]
        metrics = try container.decodeIfPresent(MLJSONObject.self, forKey: .metrics) ?? [:]
        trainingDataSHA256 = try container.decodeIfPresent(String.self, forKey: .trainingDataSHA256)
        trainingQuery = try container.decodeIfPresent(String.self, forKey: .trainingQuery)
        parentVersion = try container.decodeIfPresent(UInt32.self, forKey: .parentVersion)
        createdAtMs = try container.decode(Int64.self, forKey: .createdAtMs)
        createdBy = try container.decodeIfPresent(String.self, forKey: .createdBy)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        tags = try container.decodeIfPresent([String: String].self, forKey: .tags) ?? [:]
        if let job = try container.decodeIfPresent(String.self, forKey: .jobID) {
            guard let id = MLKey.parseJob(job) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .jobID, in: container, debugDescription: "job_id must be 32 hex digits")
            }
            jobID = id
        } else {
            jobID = nil
        }
    }

    /// Encodes the stored form: the same JSON the registry writes.
    public func encode(to encoder: any Encoder) throws {
        try MLJSONValue.encodeStored(storedJSON, of: Self.self, to: encoder)
    }

    /// The stored JSON, written without `JSONEncoder` (see `MLJSONWriter`).
    var storedJSON: String {
        var writer = MLJSONWriter()
        return storedJSON(using: &writer)
    }

    /// The stored JSON, written in `writer`'s buffer, which is left empty for the next record:
    /// a change writes several records, and reusing one buffer saves an allocation for each.
    func storedJSON(using writer: inout MLJSONWriter) -> String {
        writer.object { json in
            json.field("archived", archived)
            json.field("created_at_ms", createdAtMs)
            json.field("created_by", createdBy)
            json.field("description", description)
            json.field("hyperparameters", hyperparameters)
            json.field("job_id", jobID.map(MLKey.job))
            json.field("metrics", metrics)
            json.field("model", model)
            json.field("parent_version", parentVersion)
            json.field("tags", tags)
            json.field("training_data_sha256", trainingDataSHA256)
            json.field("training_query", trainingQuery)
            json.field("version", version)
            json.field("weights_deleted", weights.deleted)
            json.field("weights_sha256", weights.sha256)
            json.field("weights_size", weights.size)
        }
        return writer.takeText()
    }
}
