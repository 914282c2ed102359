import RedMLPersistence

/// One behaviour that every ``MLStore`` backend must show.
///
/// A case gets a fixture, makes its own fresh store with
/// ``MLStoreFixture/makeStore``, exercises it and throws
/// ``MLConformanceFailure`` (or the store's own error) when the backend
/// behaves otherwise than the contract says.
public struct MLConformanceCase: Sendable, CustomStringConvertible {
    /// A short, stable name such as `batch.failedConditionChangesNothing`.
    public let name: String
    /// Runs the case against one backend.
    public let run: @Sendable (MLStoreFixture) async throws -> Void

    /// Creates a case.
    public init(_ name: String, run: @escaping @Sendable (MLStoreFixture) async throws -> Void) {
        self.name = name
        self.run = run
    }

    /// The case's name.
    public var description: String { name }
}
