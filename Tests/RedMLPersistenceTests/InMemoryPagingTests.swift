import RedML
import Testing

/// The in-memory store's sorted index when keys leave from its front, as a
/// queue's ready index does: pages skip them, and a key written again is back.
@Suite("In-memory paging after deletions at the front")
struct InMemoryPagingTests {
    static func keys(_ store: InMemoryMLPersistence, _ request: MLPageRequest) async throws -> [String] {
        try await store.page(namespace: "jobs", request).entries.map(\.key)
    }

    @Test func pagesSkipKeysDeletedAtTheFrontAndSeeThemWhenWrittenAgain() async throws {
        let store = InMemoryMLPersistence()
        for index in 0..<10 { try await store.put(namespace: "jobs", key: "k\(index)", value: "\(index)") }
        #expect(try await Self.keys(store, MLPageRequest(limit: 3)) == ["k0", "k1", "k2"])

        for index in 0..<5 { try await store.delete(namespace: "jobs", key: "k\(index)") }
        #expect(try await Self.keys(store, MLPageRequest(limit: 3)) == ["k5", "k6", "k7"])
        #expect(try await Self.keys(store, MLPageRequest(prefix: "k1", limit: 3)).isEmpty)
        #expect(try await Self.keys(store, MLPageRequest(after: "k2", limit: 2)) == ["k5", "k6"])
        #expect(try await Self.keys(store, MLPageRequest(after: "k6", limit: 10, order: .descending)) == ["k5"])

        // Deleted one at a time between pages, as claims do.
        try await store.delete(namespace: "jobs", key: "k5")
        #expect(try await Self.keys(store, MLPageRequest(limit: 2)) == ["k6", "k7"])
        try await store.delete(namespace: "jobs", key: "k6")
        #expect(try await Self.keys(store, MLPageRequest(limit: 2)) == ["k7", "k8"])

        // A key of the skipped front written again is paged again.
        try await store.put(namespace: "jobs", key: "k1", value: "again")
        let page = try await store.page(namespace: "jobs", MLPageRequest(limit: 10))
        #expect(page.entries.map(\.key) == ["k1", "k7", "k8", "k9"])
        #expect(page.entries.first?.value == "again")
    }
}
