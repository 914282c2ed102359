import Foundation
import RedMLCore
import RedMLPersistence

/// One change to a model in the making: the record as it will be written, the
/// batch that carries every other write of the change, and the events to log.
struct ModelChange {
    /// The model record, changed in place by the change's body.
    var model: MLModel
    /// Whether the model existed before this change.
    let existed: Bool
    /// The record as read, before the change.
    let original: MLModel
    /// Every write of the change; the model record is added last, just before
    /// the commit. A registration, the largest common change, makes six in all.
    var batch = {
        var batch = MLBatch()
        batch.reserveCapacity(6)
        return batch
    }()
    /// When the change happens, in epoch milliseconds.
    let nowMs: Int64
    /// Who makes the change.
    let actor: String?
    /// The active version's record after the change, if the body knows it.
    var newActive: MLModelVersion??
    /// Whether `model` was just read from the store, rather than taken from the
    /// cache unchecked; unchecked, other reads may be skipped optimistically too.
    let verified: Bool
    /// The kinds of the events logged so far, for metrics.
    var loggedKinds: [MLRegistryEvent.Kind] = []
    /// One buffer for every record the change writes.
    var json = MLJSONWriter()

    /// Appends a history event to the change.
    mutating func log(
        _ kind: MLRegistryEvent.Kind, version: UInt32? = nil, previous: UInt32? = nil, alias: String? = nil
    ) {
        model.eventCount += 1
        loggedKinds.append(kind)
        let event = MLRegistryEvent(
            model: model.name, sequence: model.eventCount, kind: kind, atMs: nowMs, actor: actor,
            version: version, previousVersion: previous, alias: alias)
        batch.put(namespace: MLNamespace.modelHistory, key: MLKey.modelEvent(model.name, event.sequence),
                  value: event.storedJSON(using: &json), if: .absent)
    }

    /// Rewrites a version record, conditional on the revision it was read at.
    mutating func write(_ version: MLModelVersion, readAt revision: MLRevision?) {
        batch.put(namespace: MLNamespace.modelVersions, key: version.key, value: version.storedJSON(using: &json),
                  if: revision.map { .revision($0) } ?? .absent)
    }
}

/// What a change's body decided.
enum ChangeOutcome<Result> {
    /// Commit the change and return this.
    case commit(Result)
    /// Nothing to write (the model is already in the requested state); return this.
    case unchanged(Result)
}

extension MLModelRegistry {
    /// Reads `name`'s record, lets `body` compute a change, and commits it
    /// together with the record, conditional on the revision it was read at;
    /// retries from a fresh read when another writer got there first.
    ///
    /// - Parameter create: whether a missing model is created (registration)
    ///   rather than reported as unknown.
    func change<R>(
        _ name: String, actor: String?, create: Bool = false,
        _ body: (inout ModelChange) async throws -> ChangeOutcome<R>
    ) async throws -> R {
        try RegistryValidation.model(name)
        if let actor { try RegistryValidation.text(actor, "actor", model: name, limit: 255) }
        return try await withModelErrors(name) {
            // Attempt 0 is the optimistic one from the cache; it does not count against the limit.
            for attempt in 0...max(1, configuration.maximumAttempts) {
                // First try from the record this process last saw, without reading the store:
                // the commit's revision condition catches a stale record, and then the next
                // attempt reads it afresh. Any other decision made from the cached record
                // (an error, or "nothing to do") is re-checked against a fresh read.
                let cached = attempt == 0 ? cache.latest(name) : nil
                let current: ModelCache.Entry?
                if let cached { current = cached } else { current = try await loadModel(name) }
                let verified = cached == nil
                // Never before the model's last change: history times then follow sequence order
                // even when processes' clocks disagree, which `activeVersion(of:at:)` relies on.
                let now = max(nowMs, current?.model.updatedAtMs ?? .min)
                var change: ModelChange
                if let current {
                    change = ModelChange(model: current.model, existed: true, original: current.model, nowMs: now,
                                         actor: actor, verified: verified)
                } else if create {
                    try RegistryValidation.newModel(name)  // stricter than for models that exist already
                    let fresh = MLModel(
                        name: name, description: nil, tags: [:], createdAtMs: now, updatedAtMs: now, latestVersion: 0,
                        activeVersion: nil, archivedCount: 0, aliases: [:], eventCount: 0)
                    change = ModelChange(model: fresh, existed: false, original: fresh, nowMs: now, actor: actor,
                                         verified: verified)
                } else {
                    throw MLRegistryError.unknownModel(name)
                }
                // Set before the body runs, so a record the body returns is the one committed.
                change.model.updatedAtMs = max(change.model.updatedAtMs, now)
                let result: R
                do {
                    switch try await body(&change) {
                    case .unchanged(let value):
                        guard verified else { continue }
                        return value
                    case .commit(let value):
                        result = value
                    }
                } catch where !verified && !(error is CancellationError) {
                    continue
                }
                // Added to the change's own batch, not a copy, which would copy every operation.
                let modelJSON = change.model.storedJSON(using: &change.json)
                change.batch.put(namespace: MLNamespace.models, key: MLKey.model(name), value: modelJSON,
                                 if: current.map { .revision($0.revision) } ?? .absent)
                do {
                    let revision = try await store.commit(change.batch)
                    remember(change, revision: revision, previous: current)
                    metrics.committed(change.loggedKinds)
                    return result
                } catch let error as MLPersistenceError {
                    guard case .conflict(let namespace, let key, let expected, _) = error else { throw error }
                    try await checkCounters(name, read: current, conflict: namespace, key, expected)
                    // Another writer changed the model (or a shared weights record) first: start again.
                    if attempt > 0, attempt % 100 == 0 {
                        logger.debug("registry change retried", metadata: ["model": "\(name)", "attempts": "\(attempt)"])
                    }
                    if attempt > 8 { try await Task.sleep(for: .microseconds(Int.random(in: 50...500))) }
                }
            }
            throw MLRegistryError(
                code: .contention,
                message: "model '\(name)' kept changing under \(configuration.maximumAttempts) attempts; nothing was changed",
                model: name)
        }
    }

    /// Throws a corruption error naming the model record when a change's new
    /// version or history event found its key taken while the record stayed
    /// as read: its counters are behind the records stored (a hand edit, a
    /// record restored alone), so every retry would meet the same key. A
    /// writer that raced this one changed the record, and the change retries.
    private func checkCounters(
        _ name: String, read current: ModelCache.Entry?, conflict namespace: String, _ key: String,
        _ expected: MLCondition
    ) async throws {
        guard expected == .absent,
            namespace == MLNamespace.modelVersions || namespace == MLNamespace.modelHistory,
            try await store.entry(namespace: MLNamespace.models, key: MLKey.model(name))?.revision == current?.revision
        else { return }
        let counters = current.map {
            "says its latest version is \($0.model.latestVersion) and it has \($0.model.eventCount) history events"
        } ?? "is missing"
        throw MLPersistenceError.corruptValue(
            namespace: MLNamespace.models, key: MLKey.model(name),
            reason: "the record \(counters), but \(namespace)/\(key) already exists; nothing was changed")
    }

    /// Caches the record a change wrote, with the active version if it is known.
    private func remember(_ change: ModelChange, revision: MLRevision, previous: ModelCache.Entry?) {
        var entry = ModelCache.Entry(
            revision: revision, counter: nil, model: change.model, active: nil, activeLoaded: false)
        if let newActive = change.newActive {
            entry.active = newActive
            entry.activeLoaded = true
        } else if let previous, previous.activeLoaded, previous.model.activeVersion == change.model.activeVersion {
            // Carry the active version over, unless this change rewrote its record.
            let rewritten = previous.active.map { change.batch.writes(MLNamespace.modelVersions, $0.key) } ?? false
            if !rewritten {
                entry.active = previous.active
                entry.activeLoaded = true
            }
        }
        cache.store(change.model.name, entry)
    }
}

extension MLBatch {
    /// Whether the batch writes `(namespace, key)`.
    func writes(_ namespace: String, _ key: String) -> Bool {
        operations.contains { operation in
            switch operation {
            case .put(let ns, let k, _, _), .delete(let ns, let k, _): ns == namespace && k == key
            default: false
            }
        }
    }
}
