/// A group of writes applied all together or not at all.
///
/// Operations apply in the order they were added, and each condition is checked
/// against the state left by the operations before it. If any condition fails
/// or the backend fails, nothing in the batch is applied.
///
/// ```swift
/// var batch = MLBatch()
/// batch.put(namespace: MLNamespace.models, key: "spam", value: modelJSON, if: .revision(seen))
/// batch.put(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 3), value: v3, if: .absent)
/// try await store.commit(batch)
/// ```
public struct MLBatch: Sendable {
    /// One operation of a batch.
    public enum Operation: Sendable, Hashable {
        /// Store `value` under `(namespace, key)` if `condition` holds.
        case put(namespace: String, key: String, value: String, condition: MLCondition)
        /// Remove `(namespace, key)` if `condition` holds; a missing key is not an error.
        case delete(namespace: String, key: String, condition: MLCondition)
        /// Write nothing, but fail the batch unless `condition` holds for `(namespace, key)`.
        case require(namespace: String, key: String, condition: MLCondition)
        /// Make a staged blob readable by its SHA-256. Stored already, it is kept
        /// once: the new copy takes the old one's place (so committing good bytes
        /// repairs a copy damaged behind the store's back).
        case commitBlob(MLStagedBlob)
        /// Remove the committed blob with this SHA-256; a missing blob is not an error.
        case deleteBlob(sha256: String)
    }

    /// The operations, in the order they apply.
    public private(set) var operations: [Operation] = []

    /// Creates an empty batch.
    public init() {}

    /// Makes room for `count` operations in all, so that a batch whose size
    /// the caller knows grows without reallocating.
    public mutating func reserveCapacity(_ count: Int) {
        operations.reserveCapacity(count)
    }

    /// Whether the batch holds no operation.
    public var isEmpty: Bool { operations.isEmpty }

    /// Adds a put.
    public mutating func put(namespace: String, key: String, value: String, if condition: MLCondition = .always) {
        operations.append(.put(namespace: namespace, key: key, value: value, condition: condition))
    }

    /// Adds a delete.
    public mutating func delete(namespace: String, key: String, if condition: MLCondition = .always) {
        operations.append(.delete(namespace: namespace, key: key, condition: condition))
    }

    /// Adds a check that writes nothing but must hold for the batch to apply.
    public mutating func require(namespace: String, key: String, _ condition: MLCondition) {
        operations.append(.require(namespace: namespace, key: key, condition: condition))
    }

    /// Adds every operation of `other`, after this batch's own.
    public mutating func append(contentsOf other: MLBatch) {
        operations.append(contentsOf: other.operations)
    }

    /// Commits a staged blob together with the rest of the batch.
    public mutating func commitBlob(_ blob: MLStagedBlob) {
        operations.append(.commitBlob(blob))
    }

    /// Deletes a committed blob together with the rest of the batch.
    public mutating func deleteBlob(sha256: String) {
        operations.append(.deleteBlob(sha256: sha256))
    }
}
