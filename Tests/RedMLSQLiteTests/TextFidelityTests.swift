import Foundation
import RedML
import Testing

/// Keys and values come back byte for byte, or are refused; never altered.
@Suite("Text fidelity")
struct TextFidelityTests {
    @Test("U+0000 in a namespace, key or value is refused, as on every backend, and nothing changes")
    func nulCharacters() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("nul.sqlite"))
        let memory = InMemoryMLPersistence()
        for backend in [store as any MLStore, memory] {
            try await backend.put(namespace: "n", key: "k", value: "kept")
            for (namespace, key, value) in [("n", "k\u{0}1", "v"), ("n\u{0}", "k", "v"), ("n", "k", "a\u{0}tail")] {
                let error = await #expect(throws: MLPersistenceError.self) {
                    try await backend.put(namespace: namespace, key: key, value: value)
                }
                #expect(error?.code == "invalid_argument")
                #expect(error?.description.contains("U+0000") == true)
            }
            // A lookup with a NUL would otherwise find the key cut at the NUL ("k").
            await #expect(throws: MLPersistenceError.self) { try await backend.get(namespace: "n", key: "k\u{0}x") }
            var batch = MLBatch()
            batch.put(namespace: "n", key: "other", value: "fine")
            batch.put(namespace: "n", key: "bad\u{0}", value: "v")
            await #expect(throws: MLPersistenceError.self) { try await backend.commit(batch) }
            #expect(try await backend.list(namespace: "n").map(\.key) == ["k"])
            #expect(try await backend.get(namespace: "n", key: "k") == "kept")
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
        // Values are read as their exact bytes and validated, never repaired with U+FFFD.
        let error = await #expect(throws: MLPersistenceError.self) {
            try await store.get(namespace: "other", key: "latin1")
        }
        #expect(error?.code == "corruption")
        try store.close()
    }
}
