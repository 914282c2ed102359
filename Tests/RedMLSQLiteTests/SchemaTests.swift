import Foundation
import RedML
import Testing

@Suite("Schema versions")
struct SchemaTests {
    @Test("a new file gets user_version = schemaVersion")
    func newFileVersion() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("new.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        #expect(SQLiteMLPersistence.schemaVersion >= 1)
        #expect(try await SQLiteShell.run(path, "PRAGMA user_version") == "\(SQLiteMLPersistence.schemaVersion)")
        try store.close()
    }

    @Test("with createsStore off, a missing file or a database without RedML's schema is refused and left as it was")
    func createsStoreOff() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.createsStore = false
        let missing = directory.path("missing.sqlite")
        let absent = try #require(throws: MLPersistenceError.self) {
            try SQLiteMLPersistence(path: missing, configuration: configuration)
        }
        #expect(absent.code == "invalid_argument" && absent.description.contains("no store at \(missing)"), "\(absent)")
        #expect(!FileManager.default.fileExists(atPath: missing))

        let other = directory.path("other.sqlite")
        try await SQLiteShell.run(other, "CREATE TABLE t (x)")
        let foreign = try #require(throws: MLPersistenceError.self) {
            try SQLiteMLPersistence(path: other, configuration: configuration)
        }
        #expect(foreign.description.contains("\(other) is not a RedML store"), "\(foreign)")
        #expect(try await SQLiteShell.run(other, "SELECT group_concat(name) FROM sqlite_master") == "t")
        #expect(try await SQLiteShell.run(other, "PRAGMA journal_mode") == "delete")

        // An existing store opens as before.
        try SQLiteMLPersistence(path: directory.path("store.sqlite")).close()
        try SQLiteMLPersistence(path: directory.path("store.sqlite"), configuration: configuration).close()
    }

    @Test("a file from a newer schema is refused with schemaTooNew, and left as it was")
    func schemaTooNew() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("future.sqlite")
        do {
            let store = try SQLiteMLPersistence(path: path)
            try await store.put(namespace: "models", key: "iris", value: #"{"name":"iris"}"#)
            try store.close()
        }
        let known = SQLiteMLPersistence.schemaVersion
        let future = known + 5
        try await SQLiteShell.run(path, "PRAGMA user_version = \(future)")

        let error = try #require(throws: MLPersistenceError.self) {
            try SQLiteMLPersistence(path: path)
        }
        #expect(error == .schemaTooNew(store: path, found: future, supported: known))
        #expect(error.code == "schema_too_new")
        #expect(
            error.description.contains("was written by a newer RedML (schema \(future), this build knows \(known))"),
            "\(error.description)")
        #expect(error.description.contains(path))
        // Refusing changed nothing: the version and the data are still there.
        #expect(try await SQLiteShell.run(path, "PRAGMA user_version") == "\(future)")
        #expect(
            try await SQLiteShell.run(path, "SELECT value FROM ml_kv WHERE namespace = 'models' AND key = 'iris'")
                == #"{"name":"iris"}"#)

        // Setting the version back makes the file open again.
        try await SQLiteShell.run(path, "PRAGMA user_version = \(known)")
        let store = try SQLiteMLPersistence(path: path)
        #expect(try await store.get(namespace: "models", key: "iris") == #"{"name":"iris"}"#)
        try store.close()
    }
}
