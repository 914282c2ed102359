import RedMLCore
import RedMLPersistence

extension MLModelRegistry {
    /// The registry records that walking the models and their versions does
    /// not reach, checked the way the registry reads them: every weights
    /// reference count (`model_weights`), and the version records of models
    /// whose own record cannot be read. Returns each one the registry could
    /// not use, with how many records it read.
    ///
    /// For integrity checks (`redml store check`), beside ``models(_:)`` and
    /// ``versions(of:_:)``, which report what they skip themselves.
    ///
    /// - Parameter readableModels: the models whose versions were read already.
    public func unreadableRecordsBeyondModels(
        readableModels: Set<String>
    ) async throws -> (skipped: [MLPersistenceError], read: Int) {
        var skipped: [MLPersistenceError] = []
        var read = 0
        try await store.forEachEntry(in: MLNamespace.modelWeights) { entry in
            read += 1
            do {
                let usage = try MLJSON.decode(
                    WeightsUsage.self, from: entry.value, namespace: MLNamespace.modelWeights, key: entry.key)
                // A count copied under another blob's key would guard the wrong weights.
                guard MLKey.modelWeights(usage.sha256) == entry.key, usage.references >= 0 else {
                    throw MLPersistenceError.corruptValue(
                        namespace: MLNamespace.modelWeights, key: entry.key,
                        reason: "counts \(usage.references) references to blob \(usage.sha256)")
                }
            } catch let error as MLPersistenceError {
                skipped.append(error)
            }
        }
        try await store.forEachEntry(in: MLNamespace.modelVersions) { entry in
            guard let model = MLKey.parseModelVersion(entry.key)?.model, !readableModels.contains(model) else { return }
            read += 1
            do {
                _ = try MLJSON.decode(
                    MLModelVersion.self, from: entry.value, namespace: MLNamespace.modelVersions, key: entry.key)
            } catch let error as MLPersistenceError {
                skipped.append(error)
            }
        }
        return (skipped, read)
    }
}
