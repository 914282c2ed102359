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
        // Written straight into the string's storage: one is made for every registry change.
        var model = model
        return model.withUTF8 { name in
            String(unsafeUninitializedCapacity: name.count + 21) { key in
                _ = key.initialize(fromContentsOf: name)
                key[name.count] = UInt8(ascii: "/")
                var rest = sequence  // 20 digits hold any UInt64
                for position in stride(from: name.count + 20, through: name.count + 1, by: -1) {
                    key[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                return name.count + 21
            }
        }
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
