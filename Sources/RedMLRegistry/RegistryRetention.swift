import Foundation
import RedMLCore
import RedMLPersistence

/// Which archived versions keep their weights.
public struct MLRetentionPolicy: Hashable, Sendable {
    /// How many of the newest archived versions keep their weights. Default: 0.
    public var keepNewestArchived: Int
    /// Archived versions registered within this many milliseconds keep their
    /// weights. Default: 0 (no grace period).
    public var keepYoungerThanMs: Int64

    /// Creates a policy.
    public init(keepNewestArchived: Int = 0, keepYoungerThanMs: Int64 = 0) {
        self.keepNewestArchived = keepNewestArchived
        self.keepYoungerThanMs = keepYoungerThanMs
    }
}

/// What a garbage collection removed.
public struct MLRegistryGarbageReport: Hashable, Sendable {
    /// Staged uploads that no registration committed (their writer crashed or failed).
    public var abandonedUploads: Int
    /// Weights blobs deleted because no version used them any more.
    public var unreferencedBlobs: Int
}

extension MLModelRegistry {
    /// Deletes the weights of an archived version; the version record stays,
    /// marked `weights.deleted`. The blob itself goes when no other version
    /// uses the same bytes.
    ///
    /// - Throws: `version_not_archived` for a live version. The active version
    ///   and aliased versions are never archived, so they are never touched.
    @discardableResult
    public func deleteWeights(_ model: String, version: UInt32, by actor: String? = nil) async throws -> MLModelVersion {
        try await change(model, actor: actor) { change in
            var (found, revision) = try await requireVersion(change.model, version, changing: true)
            guard !found.weights.deleted else { return .unchanged(found) }
            guard found.archived, change.model.activeVersion != version,
                !change.model.aliases.values.contains(version)
            else {
                throw MLRegistryError(
                    code: .versionNotArchived,
                    message: "version \(version) of model '\(model)' is not archived; only archived versions' weights can be deleted",
                    model: model, version: version)
            }
            try await dropReference(to: found.weights.sha256, in: &change)
            found.weights.deleted = true
            change.write(found, readAt: revision)
            change.log(.weightsDeleted, version: version)
            return .commit(found)
        }
    }

    /// Deletes the weights of `model`'s archived versions that `policy` does not keep.
    ///
    /// - Returns: the versions whose weights were deleted, newest first.
    /// - Throws: `invalid_argument` for a policy with a negative count or age,
    ///   before anything is deleted: read leniently, either would keep less.
    @discardableResult
    public func applyRetention(_ model: String, _ policy: MLRetentionPolicy, by actor: String? = nil) async throws -> [UInt32] {
        for (field, value) in [("keepNewestArchived", Int64(policy.keepNewestArchived)),
                               ("keepYoungerThanMs", policy.keepYoungerThanMs)] where value < 0 {
            throw MLRegistryError.invalid(
                "retention policy for model '\(model)': \(field) must be 0 or more, got \(value); nothing was deleted",
                model: model)
        }
        let cutoff = nowMs - policy.keepYoungerThanMs
        var kept = 0
        var deleted: [UInt32] = []
        var query = MLVersionQuery(limit: 1_000, newestFirst: true, archived: true)
        while true {
            let page = try await versions(of: model, query)
            for version in page.versions where !version.weights.deleted {
                // Only versions that still have weights count towards those kept.
                if kept < policy.keepNewestArchived || version.createdAtMs > cutoff {
                    kept += 1
                    continue
                }
                do {
                    try await deleteWeights(model, version: version.version, by: actor)
                    deleted.append(version.version)
                } catch let error as MLRegistryError where error.code == .versionNotArchived {
                    continue  // unarchived meanwhile: it keeps its weights
                }
            }
            guard let cursor = page.nextCursor else { break }
            query.after = cursor
        }
        if !deleted.isEmpty {
            logger.info("retention deleted weights", metadata: ["model": "\(model)", "versions": "\(deleted)"])
        }
        return deleted
    }

    /// Removes what no version holds on to: staged uploads older than
    /// `uploadsStartedBefore` that were never committed, and weights blobs
    /// whose reference count reached zero without being removed.
    @discardableResult
    public func collectGarbage(uploadsStartedBefore: Date) async throws -> MLRegistryGarbageReport {
        try await withModelErrors(nil) {
            var report = MLRegistryGarbageReport(abandonedUploads: 0, unreferencedBlobs: 0)
            report.abandonedUploads = try await store.removeAbandonedBlobUploads(startedBefore: uploadsStartedBefore)
            var request = MLPageRequest(limit: 500)
            while true {
                let page = try await store.page(namespace: MLNamespace.modelWeights, request)
                for entry in page.entries {
                    guard let usage = try? MLJSON.decode(WeightsUsage.self, from: entry.value,
                                                         namespace: MLNamespace.modelWeights, key: entry.key),
                        usage.references <= 0
                    else { continue }
                    var batch = MLBatch()
                    batch.delete(namespace: MLNamespace.modelWeights, key: entry.key, if: .revision(entry.revision))
                    batch.deleteBlob(sha256: usage.sha256)
                    do {
                        try await store.commit(batch)
                        report.unreferencedBlobs += 1
                    } catch MLPersistenceError.conflict {
                        continue  // a registration took it up again meanwhile
                    }
                }
                guard let cursor = page.nextCursor else { break }
                request.after = cursor
            }
            return report
        }
    }

    /// Counts one version fewer using `sha256`, deleting the blob with the last one.
    private func dropReference(to sha256: String, in change: inout ModelChange) async throws {
        let key = MLKey.modelWeights(sha256)
        guard let current = try await store.entry(namespace: MLNamespace.modelWeights, key: key) else {
            // No usage record: nothing counts this blob, so deleting it is this version's call alone,
            // as long as no registration creates one meanwhile.
            change.batch.require(namespace: MLNamespace.modelWeights, key: key, .absent)
            change.batch.deleteBlob(sha256: sha256)
            return
        }
        var usage = try MLJSON.decode(WeightsUsage.self, from: current.value, namespace: MLNamespace.modelWeights,
                                      key: key)
        usage.references -= 1
        if usage.references <= 0 {
            change.batch.delete(namespace: MLNamespace.modelWeights, key: key, if: .revision(current.revision))
            change.batch.deleteBlob(sha256: sha256)
        } else {
            change.batch.put(namespace: MLNamespace.modelWeights, key: key, value: usage.storedJSON,
                             if: .revision(current.revision))
        }
    }
}
