@_exported import RedMLCore

/// The storage surface that the model registry and the job queue are built on.
///
/// It is the seed's contract: three namespaces (``MLNamespace``), records kept
/// as JSON strings under string keys, and four operations. Implementations are
/// shared by many tasks and threads at once, so they must be `Sendable`, and a
/// write returns only once it is as durable as the backend promises.
///
/// Durable callers need more than this (atomic batches, conditional writes,
/// paging, blobs); those live in ``MLStore``, which every RedML backend adopts.
public protocol MLPersistence: Sendable {
    /// Stores `value` under `(namespace, key)`, overwriting any existing value.
    func put(namespace: String, key: String, value: String) async throws

    /// Returns the value stored under `(namespace, key)`, or `nil` if there is none.
    func get(namespace: String, key: String) async throws -> String?

    /// Removes the entry at `(namespace, key)`. It succeeds whether or not the key existed.
    func delete(namespace: String, key: String) async throws

    /// Returns every entry of `namespace` and of no other, in no particular order.
    ///
    /// This loads the whole namespace; callers that may meet a large one page
    /// through it with ``MLStore/page(namespace:_:)`` instead.
    func list(namespace: String) async throws -> [(key: String, value: String)]
}
