import RedML
import Testing

/// The in-memory index compares keys by bytes, as the store does: keys that
/// are canonically equivalent (equal as Swift strings) are still two keys.
@Suite("In-memory index: canonically equivalent keys")
struct InMemoryIndexEquivalenceTests {
    static let composed = "caf\u{E9}"
    static let decomposed = "cafe\u{301}"  // sorts before `composed` by bytes

    @Test func bothFormsArePaged() async throws {
        let store = InMemoryMLPersistence()
        try await store.put(namespace: "ns", key: Self.composed, value: "composed")
        try await store.put(namespace: "ns", key: Self.decomposed, value: "decomposed")
        let page = try await store.page(namespace: "ns", MLPageRequest())
        #expect(page.entries.map { Array($0.key.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
    }

    /// A key written and deleted between two pages is not in the index: its
    /// removal must not take the equivalent key that is, from the front or from the middle.
    @Test(arguments: [false, true])
    func aKeyWrittenAndDeletedLeavesTheOtherFormPaged(atFront: Bool) async throws {
        let store = InMemoryMLPersistence()
        if !atFront { try await store.put(namespace: "ns", key: "a", value: "a") }
        try await store.put(namespace: "ns", key: Self.composed, value: "composed")
        _ = try await store.page(namespace: "ns", MLPageRequest())
        try await store.put(namespace: "ns", key: Self.decomposed, value: "decomposed")
        try await store.delete(namespace: "ns", key: Self.decomposed)
        let page = try await store.page(namespace: "ns", MLPageRequest())
        #expect(page.entries.map { Array($0.key.utf8) } == (atFront ? [] : [Array("a".utf8)]) + [Array(Self.composed.utf8)])
    }

    @Test func claimsSeeBothForms() async throws {
        let store = InMemoryMLPersistence()
        try await store.put(namespace: "records", key: "r", value: "record")
        try await store.put(namespace: "ready", key: Self.composed, value: "r")
        _ = try await store.page(namespace: "ready", MLPageRequest())
        try await store.put(namespace: "ready", key: Self.decomposed, value: "r")
        let (_, keys) = try await store.claim(
            namespace: "ready", prefix: "caf", after: nil, limit: 10, recordNamespace: "records"
        ) { candidates in (MLBatch(), candidates.map { Array($0.entry.key.utf8) }) }
        #expect(keys == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
    }
}
