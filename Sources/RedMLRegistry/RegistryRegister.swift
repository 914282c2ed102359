import Foundation
import RedMLCore
import RedMLPersistence

extension MLModelRegistry {
    /// Registers a new version of `registration.model` (creating the model on
    /// first use) with weights streamed from `weights`, and makes it active
    /// unless ``MLRegistration/activate`` is `false`.
    ///
    /// Everything is checked before anything is written. The weights are
    /// streamed into the blob store (at most two chunks in memory, hashed as
    /// they go), then the version, the model's counters and pointers, the
    /// weights' reference count and the history events are committed in one
    /// atomic write. The number is `latestVersion + 1`; concurrent registrations
    /// from any number of processes get distinct, consecutive numbers.
    @discardableResult
    public func register<Weights: AsyncSequence>(
        _ registration: MLRegistration, weights: Weights
    ) async throws -> MLModelVersion where Weights.Element == Data {
        try await register(registration) { try await self.store.writeBlob(weights) }
    }

    /// Registers a new version whose weights are already in memory.
    @discardableResult
    public func register(_ registration: MLRegistration, weights: Data) async throws -> MLModelVersion {
        try await register(registration) { try await self.store.writeBlob(weights) }
    }

    /// Registers a new version whose weights are in a file, read one chunk at a time.
    ///
    /// - Throws: `invalid_argument` naming the file if it cannot be opened.
    @discardableResult
    public func register(_ registration: MLRegistration, weightsFile: URL) async throws -> MLModelVersion {
        try await register(registration) {
            do {
                return try await self.store.writeBlob(contentsOf: weightsFile)
            } catch MLPersistenceError.invalidArgument(let reason) {
                // The caller's file, not the store, is at fault.
                throw MLRegistryError.invalid(
                    "the weights for model '\(registration.model)': \(reason); nothing was registered",
                    model: registration.model)
            }
        }
    }

    /// Validates, stages the weights with `stage`, and commits; drops the staged bytes if the commit fails.
    private func register(
        _ registration: MLRegistration, stage: () async throws -> MLStagedBlob
    ) async throws -> MLModelVersion {
        let model = registration.model
        try await withModelErrors(model) { try registration.validate() }
        let staged = try await withModelErrors(model) { try await stage() }
        do {
            if let expected = registration.expectedWeightsSHA256, expected != staged.sha256 {
                throw MLRegistryError.invalid(
                    "the weights for model '\(model)' hash to \(staged.sha256) (\(staged.size) bytes), "
                        + "not to the expected SHA-256 \(expected); nothing was registered", model: model)
            }
            return try await commitRegistration(registration, staged: staged)
        } catch {
            try? await store.abortBlobUpload(staged.upload)  // the staged bytes would otherwise wait for collection
            throw error
        }
    }

    private func commitRegistration(_ registration: MLRegistration, staged: MLStagedBlob) async throws -> MLModelVersion {
        let name = registration.model
        return try await change(name, actor: registration.createdBy, create: true) { change in
            let model = change.model
            if let parent = registration.parentVersion, parent > model.latestVersion {
                throw MLRegistryError(
                    code: .unknownVersion,
                    message: "parent version \(parent) of model '\(name)' does not exist (latest is \(model.latestVersion))",
                    model: name, version: parent)
            }
            guard model.latestVersion < UInt32.max else {
                throw MLRegistryError.invalid("model '\(name)' has used every version number", model: name)
            }
            let number = model.latestVersion + 1
            if let expected = registration.expectedVersion, expected != number {
                throw MLRegistryError(
                    code: .versionConflict,
                    message: "model '\(name)' expected to register version \(expected), but the next version is \(number)",
                    model: name, version: expected)
            }
            let version = MLModelVersion(
                model: name, version: number, archived: false,
                weights: MLWeightsReference(sha256: staged.sha256, size: staged.size),
                hyperparameters: registration.hyperparameters, metrics: registration.metrics,
                trainingDataSHA256: registration.trainingDataSHA256, trainingQuery: registration.trainingQuery,
                parentVersion: registration.parentVersion, createdAtMs: change.nowMs,
                // Empty is none, as an update's empty description clears it.
                createdBy: registration.createdBy, description: registration.description?.isEmpty == true ? nil : registration.description,
                tags: registration.tags, jobID: registration.jobID)
            try await addReference(to: staged, in: &change)
            change.write(version, readAt: nil)
            change.model.latestVersion = number
            change.log(.registered, version: number)
            if registration.activate {
                let previous = change.model.activeVersion
                change.model.activeVersion = number
                change.newActive = .some(version)
                change.log(.activated, version: number, previous: previous)
            }
            return .commit(version)
        }
    }

    /// Commits the staged weights and counts one more version using them.
    private func addReference(to staged: MLStagedBlob, in change: inout ModelChange) async throws {
        let key = MLKey.modelWeights(staged.sha256)
        // Weights are usually new: on an optimistic attempt assume no record, and let
        // the `.absent` condition send the change round again (verified) if there is one.
        let current = change.verified ? try await store.entry(namespace: MLNamespace.modelWeights, key: key) : nil
        var usage = WeightsUsage(sha256: staged.sha256, references: 0)
        if let current {
            usage = try MLJSON.decode(WeightsUsage.self, from: current.value, namespace: MLNamespace.modelWeights,
                                      key: key)
        }
        usage.references += 1
        // Identical bytes are stored once: a duplicate's upload takes the stored copy's place
        // (repairing it, if it was damaged), at the cost that dropping the upload would have had.
        change.batch.commitBlob(staged)
        change.batch.put(namespace: MLNamespace.modelWeights, key: key, value: usage.storedJSON,
                         if: current.map { .revision($0.revision) } ?? .absent)
    }
}
