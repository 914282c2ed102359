import RedMLCore
import RedMLRegistry

/// The JSON the API answers with for registry records: snake_case fields,
/// every field present (`null` when unset), times as epoch milliseconds.
enum RegistryJSON {
    static func model(_ model: MLModel) -> MLJSONObject {
        [
            "name": .string(model.name),
            "description": optional(model.description),
            "tags": strings(model.tags),
            "created_at_ms": .int(model.createdAtMs),
            "updated_at_ms": .int(model.updatedAtMs),
            "latest_version": .int(Int64(model.latestVersion)),
            "active_version": optional(model.activeVersion),
            "version_count": .int(Int64(model.versionCount)),
            "archived_count": .int(Int64(model.archivedCount)),
            "aliases": .object(model.aliases.mapValues { .int(Int64($0)) }),
        ]
    }

    static func version(_ version: MLModelVersion) -> MLJSONObject {
        [
            "model": .string(version.model),
            "version": .int(Int64(version.version)),
            "archived": .bool(version.archived),
            "weights_sha256": .string(version.weights.sha256),
            "weights_size": .int(version.weights.size),
            "weights_deleted": .bool(version.weights.deleted),
            "hyperparameters": .object(version.hyperparameters),
            "metrics": .object(version.metrics),
            "training_data_sha256": optional(version.trainingDataSHA256),
            "training_query": optional(version.trainingQuery),
            "parent_version": optional(version.parentVersion),
            "created_at_ms": .int(version.createdAtMs),
            "created_by": optional(version.createdBy),
            "description": optional(version.description),
            "tags": strings(version.tags),
            "job_id": optional(version.jobID.map(MLKey.job)),
        ]
    }

    static func event(_ event: MLRegistryEvent) -> MLJSONObject {
        [
            "model": .string(event.model),
            "sequence": .int(Int64(clamping: event.sequence)),
            "kind": .string(event.kind.rawValue),
            "at_ms": .int(event.atMs),
            "actor": optional(event.actor),
            "version": optional(event.version),
            "previous_version": optional(event.previousVersion),
            "alias": optional(event.alias),
        ]
    }

    static func optional(_ value: String?) -> MLJSONValue { value.map(MLJSONValue.string) ?? .null }
    static func optional(_ value: UInt32?) -> MLJSONValue { value.map { .int(Int64($0)) } ?? .null }
    static func optional(_ value: Int64?) -> MLJSONValue { value.map(MLJSONValue.int) ?? .null }
    static func strings(_ map: [String: String]) -> MLJSONValue { .object(map.mapValues(MLJSONValue.string)) }
}
