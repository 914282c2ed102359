import Foundation
import RedML
import Testing

/// A value that is not UTF-8 text, written behind the store's back with the sqlite3 shell.
@Suite("Corrupt values")
struct CorruptValueTests {
    /// A store with good jobs a, b, d, e and a corrupt blob value at "bad" (between b and d).
    static func makeStore(_ directory: borrowing TemporaryDirectory) async throws -> (SQLiteMLPersistence, String) {
        let path = directory.path("corrupt.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        for key in ["a", "b", "d", "e"] {
            try await store.put(namespace: MLNamespace.jobs, key: key, value: #"{"key":"\#(key)"}"#)
        }
        try await SQLiteShell.run(path, "INSERT INTO ml_kv VALUES('jobs','bad',x'fffe',1)")
        return (store, path)
    }

    @Test("get and entry throw a corruption error naming the namespace and the key")
    func getThrows() async throws {
        let directory = try TemporaryDirectory()
        let (store, _) = try await Self.makeStore(directory)
        let error = try await #require(throws: MLPersistenceError.self) {
            try await store.get(namespace: MLNamespace.jobs, key: "bad")
        }
        #expect(error.code == "corruption")
        #expect(error.description.contains("jobs/bad"), "\(error.description)")
        let entryError = try await #require(throws: MLPersistenceError.self) {
            try await store.entry(namespace: MLNamespace.jobs, key: "bad")
        }
        #expect(entryError.code == "corruption")
        #expect(entryError.description.contains("jobs/bad"), "\(entryError.description)")
        // Its neighbours read fine.
        #expect(try await store.get(namespace: MLNamespace.jobs, key: "b") == #"{"key":"b"}"#)
        try store.close()
    }

    @Test("list and a single large page skip the corrupt record and return the good ones")
    func listAndPageSkip() async throws {
        let directory = try TemporaryDirectory()
        let (store, _) = try await Self.makeStore(directory)
        let listed = try await store.list(namespace: MLNamespace.jobs).map(\.key).sorted()
        #expect(listed == ["a", "b", "d", "e"])
        let page = try await store.page(namespace: MLNamespace.jobs, MLPageRequest(limit: 100))
        #expect(page.entries.map(\.key) == ["a", "b", "d", "e"])
        #expect(page.nextCursor == nil)
        let descending = try await store.page(namespace: MLNamespace.jobs, MLPageRequest(limit: 100, order: .descending))
        #expect(descending.entries.map(\.key) == ["e", "d", "b", "a"])
        try store.close()
    }

    @Test("paging with small limits past a corrupt record still reaches every good record")
    func smallPagesSkip() async throws {
        let directory = try TemporaryDirectory()
        let (store, _) = try await Self.makeStore(directory)
        var missed: [String] = []
        for limit in 1...5 {
            for order in [MLSortOrder.ascending, .descending] {
                var request = MLPageRequest(limit: limit, order: order)
                var keys: [String] = []
                var pages = 0
                while pages < 100 {
                    let page = try await store.page(namespace: MLNamespace.jobs, request)
                    pages += 1
                    #expect(page.entries.count <= limit)
                    keys += page.entries.map(\.key)
                    guard let cursor = page.nextCursor else { break }
                    request.after = cursor
                }
                let expected = order.isDescending ? ["e", "d", "b", "a"] : ["a", "b", "d", "e"]
                if keys != expected {
                    missed.append("limit \(limit) \(order.isDescending ? "desc" : "asc"): got \(keys)")
                }
            }
        }
        // Regression: the page query used to fetch limit + 1 rows, and a skipped corrupt row
        // used up the extra one, ending paging early (asc missed "e", desc missed "a").
        #expect(missed.isEmpty, "paging stopped early: \(missed)")
        try store.close()
    }

    @Test("checkIntegrity reports corrupt_value naming the key; the file still opens")
    func integrityAndReopen() async throws {
        let directory = try TemporaryDirectory()
        let (store, path) = try await Self.makeStore(directory)
        let report = try await store.checkIntegrity()
        #expect(report.entriesChecked == 5)
        #expect(report.problems.count == 1, "\(report.problems)")
        let problem = try #require(report.problems.first)
        #expect(problem.code == "corrupt_value")
        #expect(problem.message.contains("jobs/bad"), "\(problem.message)")
        try store.close()

        let reopened = try SQLiteMLPersistence(path: path)
        #expect(try await reopened.get(namespace: MLNamespace.jobs, key: "a") == #"{"key":"a"}"#)
        // Overwriting the corrupt record repairs it.
        try await reopened.put(namespace: MLNamespace.jobs, key: "bad", value: #"{"key":"bad"}"#)
        #expect(try await reopened.get(namespace: MLNamespace.jobs, key: "bad") == #"{"key":"bad"}"#)
        try await StoreHelpers.expectHealthy(reopened)
        try reopened.close()
    }
}
