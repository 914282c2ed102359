import RedMLPersistence

/// How the conformance suite gets a fresh store of one backend.
public struct MLStoreFixture: Sendable, CustomStringConvertible {
    /// The backend's name, shown in test names (`memory`, `sqlite`, `postgres`).
    public let name: String
    /// Returns a new, empty store that no other test uses.
    public let makeStore: @Sendable () async throws -> any MLStore
    /// Alters one stored byte of the committed blob with this SHA-256, behind the
    /// store's back, so that the suite can prove reads are verified.
    public let tamperWithBlob: @Sendable (_ store: any MLStore, _ sha256: String) async throws -> Void

    /// Creates a fixture.
    public init(
        name: String,
        makeStore: @escaping @Sendable () async throws -> any MLStore,
        tamperWithBlob: @escaping @Sendable (_ store: any MLStore, _ sha256: String) async throws -> Void
    ) {
        self.name = name
        self.makeStore = makeStore
        self.tamperWithBlob = tamperWithBlob
    }

    public var description: String { name }
}
