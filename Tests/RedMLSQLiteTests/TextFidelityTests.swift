import Foundation
import RedML
import Testing

/// Keys and values come back byte for byte, as the in-memory backend returns them.
@Suite("Text fidelity")
struct TextFidelityTests {
    @Test("keys and values holding U+0000 round-trip and stay distinct")
    func nulCharacters() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("nul.sqlite"))
        let memory = InMemoryMLPersistence()
        for backend in [store as any MLStore, memory] {
            try await backend.put(namespace: "n", key: "k\u{0}1", value: #"{"v":"a"}"# + "\u{0}tail")
            try await backend.put(namespace: "n", key: "k\u{0}2", value: "second")
        }
        // The reference behaviour.
        #expect(try await memory.get(namespace: "n", key: "k\u{0}1") == #"{"v":"a"}"# + "\u{0}tail")
        #expect(try await memory.list(namespace: "n").count == 2)

        let first = try await store.get(namespace: "n", key: "k\u{0}1")
        let keys = try await store.list(namespace: "n").map(\.key).sorted()
        // BUG (RedMLSQLite): strings are bound with GRDB's String binding (sqlite3_bind_text with
        // length -1), which stops at the first NUL: "k\0" + "1" and "k\0" + "2" are both stored
        // as "k", the second put silently overwrites the first, and values lose everything from
        // the NUL on. Observed: get(k\0 1) == "second", list == [("k", "second")].
        withKnownIssue("U+0000 truncates keys and values") {
            #expect(first == #"{"v":"a"}"# + "\u{0}tail")
            #expect(keys == ["k\u{0}1", "k\u{0}2"])
        }
        try store.close()
    }

    @Test("a TEXT value that is not valid UTF-8 is reported as corrupt, not silently repaired")
    func invalidUTF8Text() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("text.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        // 'a', 0xFF, 0xFE, 'b' stored with TEXT type (another tool writing Latin-1, say).
        try await SQLiteShell.run(path, "INSERT INTO ml_kv VALUES('other','latin1',CAST(x'61fffe62' AS TEXT),1)")
        #expect(try await SQLiteShell.run(path, "SELECT typeof(value) FROM ml_kv WHERE key = 'latin1'") == "text")
        // BUG (RedMLSQLite): only BLOB values are checked; a TEXT value is read through
        // GRDB's String(cString:), which replaces invalid bytes with U+FFFD, so get returns
        // "a\u{FFFD}\u{FFFD}b" instead of throwing a corruption error.
        await withKnownIssue("invalid UTF-8 TEXT is repaired silently") {
            let error = await #expect(throws: MLPersistenceError.self) {
                try await store.get(namespace: "other", key: "latin1")
            }
            #expect(error?.code == "corruption")
        }
        try store.close()
    }
}
