import RedMLCore
import RedMLPersistence

extension MLModelRegistry {
    /// The highest version number to list for `model`: its `latestVersion`,
    /// unless a version record above that counter is stored. Only damage puts
    /// one there (a hand edit, a model record restored alone), and hiding it
    /// would hide data, so then the highest stored number is found from the
    /// version keys and the damage is logged.
    ///
    /// Versions are written one above another and never deleted, so a record
    /// above the counter means one right above it: checking that key costs one
    /// lookup. `redml store check` reads every key, and finds the rest.
    func listedTop(_ model: MLModel) async throws -> UInt32 {
        let latest = model.latestVersion
        guard latest < .max,
            try await store.entry(namespace: MLNamespace.modelVersions,
                                  key: MLKey.modelVersion(model.name, latest + 1)) != nil
        else { return latest }
        let highest = try await highestStoredVersion(of: model.name) ?? latest
        logCounterBehind(model, stored: highest, "listing them all")
        return max(highest, latest)
    }

    /// Logs that `model`'s record counts fewer versions than the stored version
    /// `stored`, and what the registry does about it (`doing`).
    func logCounterBehind(_ model: MLModel, stored: UInt32, _ doing: String) {
        logger.warning(
            "model record's latest_version is behind its stored versions; \(doing)",
            metadata: ["model": "\(model.name)", "latest_version": "\(model.latestVersion)",
                       "stored_version": "\(MLNamespace.modelVersions)/\(MLKey.modelVersion(model.name, stored))",
                       "record": "\(MLNamespace.models)/\(MLKey.model(model.name))"])
    }

    /// The highest version number among the stored version records of
    /// `model`, or `nil` if it has none, read from their keys a page at a time.
    ///
    /// Keys sort by their bytes (`spam@v10` before `spam@v9`), not by number,
    /// so this reads every one; a listing calls it only on damage, through ``listedTop(_:)``.
    package func highestStoredVersion(of model: String) async throws -> UInt32? {
        let prefix = MLKey.modelVersion(model, 0).dropLast()  // `<model>@v`
        var request = MLPageRequest(prefix: String(prefix), limit: 1_000)
        var highest: UInt32?
        while true {
            let page = try await store.page(namespace: MLNamespace.modelVersions, request)
            for entry in page.entries {
                // `spam@v1@v2` is version 2 of the model `spam@v1`, and `spam@v07` no version's key.
                guard let parsed = MLKey.parseModelVersion(entry.key), parsed.model == model,
                    MLKey.modelVersion(model, parsed.version) == entry.key
                else { continue }
                highest = max(highest ?? 0, parsed.version)
            }
            guard let cursor = page.nextCursor else { return highest }
            request.after = cursor
        }
    }
}
