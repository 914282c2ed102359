import Foundation
import RedMLCore
import RedMLPersistence

extension MLModelRegistry {
    /// The model's record and its revision, from the cache when the record has not changed.
    func loadModel(_ name: String) async throws -> ModelCache.Entry? {
        let counter = store.localChangeCounter  // read before the record, so it can only be too old
        guard let stored = try await store.entry(namespace: MLNamespace.models, key: MLKey.model(name)) else {
            cache.remove(name)
            return nil
        }
        if var cached = cache.entry(name, revision: stored.revision) {
            if cached.counter != counter {
                cached.counter = counter
                cache.store(name, cached)
            }
            return cached
        }
        let model = try Self.decodeModel(stored.value, key: name)
        let entry = ModelCache.Entry(revision: stored.revision, counter: counter, model: model, active: nil,
                                     activeLoaded: false)
        cache.store(name, entry)
        return entry
    }

    /// The model's record, or an unknown-model error.
    func requireModel(_ name: String) async throws -> ModelCache.Entry {
        try RegistryValidation.model(name)
        guard let entry = try await loadModel(name) else { throw MLRegistryError.unknownModel(name) }
        return entry
    }

    /// A version record and the revision it was read at.
    func loadVersion(_ model: String, _ version: UInt32) async throws -> (version: MLModelVersion, revision: MLRevision)? {
        let key = MLKey.modelVersion(model, version)
        guard let stored = try await store.entry(namespace: MLNamespace.modelVersions, key: key) else { return nil }
        let decoded = try MLJSON.decode(MLModelVersion.self, from: stored.value, namespace: MLNamespace.modelVersions,
                                        key: key)
        guard decoded.model == model, decoded.version == version else {
            throw MLPersistenceError.corruptValue(
                namespace: MLNamespace.modelVersions, key: key,
                reason: "record describes version \(decoded.version) of model '\(decoded.model)'")
        }
        return (decoded, stored.revision)
    }

    /// A version that must exist, given the model's record.
    ///
    /// A version above `latestVersion` is stored only on damage (a hand edit, a
    /// model record restored alone; see ``listedTop(_:)``). Listings show it, so
    /// a read finds it too, and the damage is logged. A change (`changing`) of it
    /// is refused naming the model record, as a registration is: it would write
    /// beside counters that are behind what is stored.
    func requireVersion(
        _ model: MLModel, _ version: UInt32, changing: Bool = false
    ) async throws -> (version: MLModelVersion, revision: MLRevision) {
        try RegistryValidation.version(version, model: model.name)
        guard let found = try await loadVersion(model.name, version) else {
            throw MLRegistryError.unknownVersion(model.name, version)
        }
        guard version > model.latestVersion else { return found }
        let stored = "\(MLNamespace.modelVersions)/\(MLKey.modelVersion(model.name, version))"
        if changing {
            throw MLPersistenceError.corruptValue(
                namespace: MLNamespace.models, key: MLKey.model(model.name),
                reason: "the record says its latest version is \(model.latestVersion), but \(stored) exists; "
                    + "nothing was changed")
        }
        logCounterBehind(model, stored: version, "reading version \(version)")
        return found
    }

    // MARK: Public reads

    /// The model called `name`.
    ///
    /// - Throws: ``MLRegistryError`` with code `unknown_model` if there is none.
    public func model(_ name: String) async throws -> MLModel {
        try await withModelErrors(name) { try await requireModel(name).model }
    }

    /// Whether a model called `name` exists.
    public func contains(model name: String) async throws -> Bool {
        try await withModelErrors(name) {
            try RegistryValidation.model(name)
            return try await loadModel(name) != nil
        }
    }

    /// Version `version` of `model`, archived or not. Never reads the weights.
    ///
    /// - Throws: `unknown_model`, or `unknown_version` naming the model and number.
    public func version(_ model: String, _ version: UInt32) async throws -> MLModelVersion {
        try await withModelErrors(model, version: version) {
            let entry = try await requireModel(model)
            return try await requireVersion(entry.model, version).version
        }
    }

    /// The version serving traffic, or `nil` if the model has none.
    ///
    /// Served from the cache when the model's record has not changed.
    /// - Throws: `unknown_model` if there is no such model.
    public func activeVersion(of model: String) async throws -> MLModelVersion? {
        if let counter = store.localChangeCounter, let hit = cache.active(model, counter: counter) {
            return hit
        }
        return try await withModelErrors(model) {
            for _ in 0..<max(1, configuration.maximumAttempts) {
                let entry = try await requireModel(model)
                if entry.activeLoaded { return entry.active }
                guard let number = entry.model.activeVersion else {
                    cacheActive(model, entry, nil)
                    return nil
                }
                let active = try await loadVersion(model, number)?.version
                // Only cache what belongs to the record read: re-check that it is still current.
                guard let recheck = try await store.entry(namespace: MLNamespace.models, key: MLKey.model(model)),
                    recheck.revision == entry.revision
                else { continue }
                guard let active else { throw MLRegistryError.unknownVersion(model, number) }
                cacheActive(model, entry, active)
                return active
            }
            throw MLRegistryError(code: .contention, message: "model '\(model)' kept changing while it was read",
                                  model: model)
        }
    }

    /// The model called `name` with its active version, to show the model whole.
    ///
    /// As ``model(_:)`` and ``activeVersion(of:)`` together, except that an
    /// active version whose record is corrupt or missing does not fail the
    /// read: it is reported in ``MLModelDetails/skipped``, naming the record, as
    /// lists report the records they pass over, and ``MLModelDetails/active`` is `nil`.
    /// - Throws: `unknown_model`; a corrupt model record still throws, as there is no model to show.
    public func details(of name: String) async throws -> MLModelDetails {
        do {
            // The usual path, from the cache when the model has not changed.
            let model = try await self.model(name)
            return MLModelDetails(model: model, active: try await activeVersion(of: name), skipped: [])
        } catch let error as MLRegistryError {
            // A corrupt record, or an active version whose record is gone (damage too: a version is never deleted).
            guard error.code == .unknownVersion || error.underlying?.code == "corruption" else { throw error }
        }
        // Some record is damaged: read the model and its active version apart, to tell which.
        return try await withModelErrors(name) {
            let model = try await requireModel(name).model
            guard let number = model.activeVersion else { return MLModelDetails(model: model, active: nil, skipped: []) }
            do {
                guard let active = try await loadVersion(name, number)?.version else {
                    throw MLPersistenceError.corruptValue(
                        namespace: MLNamespace.modelVersions, key: MLKey.modelVersion(name, number),
                        reason: "missing, though model '\(name)' names version \(number) active")
                }
                return MLModelDetails(model: model, active: active, skipped: [])
            } catch let error as MLPersistenceError {
                guard case .corruption = error else { throw error }
                logger.warning("skipped corrupt active version record",
                               metadata: ["model": "\(name)", "version": "\(number)", "error": "\(error)"])
                return MLModelDetails(model: model, active: nil, skipped: [error])
            }
        }
    }

    /// The model record stored under `key`; one that names another model is
    /// corrupt (copied under another key, it would be read and listed as that model).
    static func decodeModel(_ value: String, key: String) throws -> MLModel {
        let model = try MLJSON.decode(MLModel.self, from: value, namespace: MLNamespace.models, key: key)
        guard model.name == key else {
            throw MLPersistenceError.corruptValue(
                namespace: MLNamespace.models, key: key, reason: "record names model '\(model.name)'")
        }
        return model
    }

    private func cacheActive(_ model: String, _ entry: ModelCache.Entry, _ active: MLModelVersion?) {
        var entry = entry
        entry.active = active
        entry.activeLoaded = true
        cache.store(model, entry)
    }

    /// The version an alias points at. `active` and `latest` are built in.
    ///
    /// - Returns: `nil` only for `active` when no version is active.
    /// - Throws: `unknown_alias` if the model has no such alias.
    public func version(of model: String, alias: String) async throws -> MLModelVersion? {
        if alias == "active" { return try await activeVersion(of: model) }
        return try await withModelErrors(model) {
            let entry = try await requireModel(model)
            let number: UInt32
            if alias == "latest" {
                guard entry.model.latestVersion > 0 else { return nil }
                number = entry.model.latestVersion
            } else {
                guard let target = entry.model.aliases[alias] else { throw MLRegistryError.unknownAlias(model, alias) }
                number = target
            }
            return try await requireVersion(entry.model, number).version
        }
    }

    /// A page of `model`'s versions, oldest first unless the query says otherwise.
    ///
    /// Versions are numbered `1...latestVersion` without gaps, so a page reads
    /// exactly the records it returns (plus those its filters skip, and one
    /// lookup above the counter). A record that is not valid JSON is reported
    /// in ``MLVersionPage/skipped``, not thrown. Versions stored above a
    /// damaged `latestVersion` are listed too, and the damage is logged.
    public func versions(of model: String, _ query: MLVersionQuery = MLVersionQuery()) async throws -> MLVersionPage {
        try await withModelErrors(model) {
            try validateLimit(query.limit, model: model)
            // Not just the counter: a damaged one would hide the versions above it.
            let top = try await listedTop(try await requireModel(model).model)
            var next: UInt32? = query.newestFirst
                ? (query.after.map { $0 > 1 ? min($0 - 1, top) : nil } ?? (top > 0 ? top : nil))
                : (query.after.map { $0 < top ? $0 + 1 : nil } ?? (top > 0 ? 1 : nil))
            var page = MLVersionPage(versions: [], nextCursor: nil, skipped: [])
            while let number = next {
                if page.versions.count == query.limit {
                    page.nextCursor = page.versions.last?.version
                    break
                }
                next = query.newestFirst ? (number > 1 ? number - 1 : nil) : (number < top ? number + 1 : nil)
                do {
                    guard let found = try await loadVersion(model, number)?.version else { continue }
                    if let archived = query.archived, found.archived != archived { continue }
                    if let tag = query.tag, !tag.admits(found.tags) { continue }
                    page.versions.append(found)
                } catch let error as MLPersistenceError {
                    guard case .corruption = error else { throw error }
                    logger.warning("skipped corrupt version record", metadata: ["model": "\(model)", "version": "\(number)", "error": "\(error)"])
                    page.skipped.append(error)
                }
            }
            return page
        }
    }

    /// Every version of `model`, oldest first (the seed system's `list_versions`).
    public func allVersions(of model: String) async throws -> [MLModelVersion] {
        var versions: [MLModelVersion] = []
        var query = MLVersionQuery(limit: 1_000)
        while true {
            let page = try await self.versions(of: model, query)
            versions += page.versions
            guard let cursor = page.nextCursor else { return versions }
            query.after = cursor
        }
    }

    /// A page of models in name order (bytewise), with their pointers and counters.
    public func models(_ query: MLModelQuery = MLModelQuery()) async throws -> MLModelPage {
        try await withModelErrors(nil) {
            try validateLimit(query.limit, model: nil)
            try validateModelCursor(query.after)
            let request = MLPageRequest(after: query.after, order: query.descending ? .descending : .ascending)
            let page = try await store.filteredPage(namespace: MLNamespace.models, request, limit: query.limit) { entry -> MLModel? in
                let model = try Self.decodeModel(entry.value, key: entry.key)
                return query.tag.map { $0.admits(model.tags) } ?? true ? model : nil
            }
            for error in page.skipped {
                logger.warning("skipped corrupt model record", metadata: ["error": "\(error)"])
            }
            return MLModelPage(models: page.items, nextCursor: page.nextCursor, skipped: page.skipped)
        }
    }

    /// Summaries of every model: name, active version, total and archived versions.
    public func summaries() async throws -> [MLModelSummary] {
        var summaries: [MLModelSummary] = []
        var query = MLModelQuery(limit: 1_000)
        while true {
            let page = try await models(query)
            summaries += page.models.map {
                MLModelSummary(name: $0.name, activeVersion: $0.activeVersion, totalVersions: $0.versionCount,
                               archivedVersions: $0.archivedCount)
            }
            guard let cursor = page.nextCursor else { return summaries }
            query.after = cursor
        }
    }
}
