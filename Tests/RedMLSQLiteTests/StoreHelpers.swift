import Foundation
import RedML
import Testing

enum StoreHelpers {
    /// Every entry of `namespace` (optionally under `prefix`), walking pages of `limit`.
    static func entries(
        _ store: SQLiteMLPersistence, _ namespace: String, prefix: String? = nil, limit: Int = 1000
    ) async throws -> [MLEntry] {
        var request = MLPageRequest(prefix: prefix, limit: limit)
        var entries: [MLEntry] = []
        while true {
            let page = try await store.page(namespace: namespace, request)
            entries += page.entries
            guard let cursor = page.nextCursor else { return entries }
            request.after = cursor
        }
    }

    /// The numeric suffixes of keys `PREFIX-I` in `namespace`, sorted, with their
    /// values, after checking each value is `{"i":I}`.
    static func indices(
        _ store: SQLiteMLPersistence, _ namespace: String, prefix: String
    ) async throws -> [Int] {
        let entries = try await entries(store, namespace, prefix: prefix + "-")
        var indices: [Int] = []
        for entry in entries {
            let index = try #require(Int(entry.key.dropFirst(prefix.count + 1)), "unexpected key \(entry.key)")
            #expect(entry.value == #"{"i":\#(index)}"#, "\(namespace)/\(entry.key) holds \(entry.value)")
            indices.append(index)
        }
        return indices.sorted()
    }

    /// Requires a healthy integrity report, listing the problems if not.
    static func expectHealthy(
        _ store: SQLiteMLPersistence, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let report = try await store.checkIntegrity()
        #expect(report.isHealthy, "integrity problems: \(report.problems)", sourceLocation: sourceLocation)
    }

    /// Requires that the store still takes a write and reads it back.
    static func expectWritable(
        _ store: SQLiteMLPersistence, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let key = "probe-\(UUID().uuidString)"
        try await store.put(namespace: "probe", key: key, value: #"{"ok":true}"#)
        let value = try await store.get(namespace: "probe", key: key)
        #expect(value == #"{"ok":true}"#, sourceLocation: sourceLocation)
    }
}
