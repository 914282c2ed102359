import RedMLCore

extension MLNamespace {
    /// The registry's append-only history: `<model>/<20-digit sequence>`.
    public static let modelHistory = "model_history"
    /// How many versions use each weights blob: one record per SHA-256.
    public static let modelWeights = "model_weights"
}

extension MLKey {
    /// The key of a model's history event; `/` cannot occur in a model name,
    /// so `<model>/` is a prefix no other model's events share.
    public static func modelEvent(_ model: String, _ sequence: UInt64) -> String {
        let digits = String(sequence)
        return model + "/" + String(repeating: "0", count: max(0, 20 - digits.utf8.count)) + digits
    }

    /// The prefix every history event key of `model` starts with.
    public static func modelEventPrefix(_ model: String) -> String {
        model + "/"
    }

    /// The key of the reference count of a weights blob.
    public static func modelWeights(_ sha256: String) -> String {
        sha256
    }
}

/// How many versions use one weights blob, so the blob is deleted when the last one lets go.
struct WeightsUsage: Codable, Hashable, Sendable {
    var sha256: String
    var references: Int

    var storedJSON: String {
        var writer = MLJSONWriter()
        writer.object { json in
            json.field("references", references)
            json.field("sha256", sha256)
        }
        return writer.text
    }
}
