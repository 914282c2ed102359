import Foundation
import RedML
import RedMLTesting

/// The backends the conformance suites (store and registry) run against, shared
/// by every test target of the package.
package enum Backends {
    /// Every backend fixture, in the order they appear in test names.
    ///
    /// To add a backend, append its fixture here: a `makeStore` that returns a
    /// fresh, empty store no other test uses, and a `tamperWithBlob` that alters
    /// one stored byte of a committed blob behind the store's back.
    ///
    /// `REDML_TEST_BACKENDS` picks them (comma-separated: `memory`, `sqlite`,
    /// `postgres`; default `memory,sqlite`). `scripts/test` runs the suites a
    /// second time with `postgres` alone, against the server it started
    /// (`POSTGRES_URL`), so the server's load does not starve the timing of
    /// the in-process rounds.
    package static func allFixtures() -> [MLStoreFixture] {
        let names = ProcessInfo.processInfo.environment["REDML_TEST_BACKENDS"] ?? "memory,sqlite"
        let fixtures = names.split(separator: ",").flatMap { name -> [MLStoreFixture] in
            switch name.trimmingCharacters(in: .whitespaces) {
            case "memory": [inMemory]
            case "sqlite": [sqlite]
            case "postgres": PostgresBackend.fixtures()
            case "": []
            // A misspelt name must not leave the suites with no backend to run, passing vacuously:
            // it becomes a backend whose every store fails, naming the choices.
            case let unknown: [unknownBackend(unknown)]
            }
        }
        // Set but naming nothing (`REDML_TEST_BACKENDS=`) would pass vacuously too.
        return fixtures.isEmpty ? [unknownBackend(names)] : fixtures
    }

    /// A fixture for a `REDML_TEST_BACKENDS` name that names no backend: every test on it fails.
    static func unknownBackend(_ name: String) -> MLStoreFixture {
        let message = "REDML_TEST_BACKENDS names an unknown backend '\(name)'; the backends are memory, sqlite and postgres"
        return MLStoreFixture(
            name: name,
            makeStore: { throw MLConformanceFailure(message) },
            tamperWithBlob: { _, _ in throw MLConformanceFailure(message) })
    }

    /// The fixtures whose stores keep the queue's jobs in the key-value layer
    /// (every one but PostgreSQL, which keeps them in a job table): for tests
    /// that reach behind the queue into its key-value records.
    package static func keyValueJobFixtures() -> [MLStoreFixture] {
        allFixtures().filter { $0.name != PostgresBackend.fixtureName }
    }

    /// The in-memory backend, with its default 1 MiB chunks.
    package static let inMemory = MLStoreFixture(
        name: "memory",
        makeStore: { InMemoryMLPersistence() },
        tamperWithBlob: { store, sha256 in
            guard let memory = store as? InMemoryMLPersistence else {
                throw MLConformanceFailure("the memory fixture got a \(type(of: store))")
            }
            memory.tamperWithBlob(sha256: sha256)
        })

    /// The SQLite backend, one new file per store under a per-process folder
    /// (`scripts/test` removes old folders).
    package static let sqlite = MLStoreFixture(
        name: "sqlite",
        makeStore: {
            let folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("redml-conformance-\(ProcessInfo.processInfo.processIdentifier)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return try SQLiteMLPersistence(path: folder.appendingPathComponent("\(UUID().uuidString).sqlite").path)
        },
        tamperWithBlob: { store, sha256 in
            guard let sqlite = store as? SQLiteMLPersistence else {
                throw MLConformanceFailure("the sqlite fixture got a \(type(of: store))")
            }
            try sqlite.tamperWithBlob(sha256: sha256)
        })
}
