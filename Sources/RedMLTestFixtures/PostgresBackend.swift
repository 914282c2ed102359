import Foundation
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTesting
import Synchronization

/// The PostgreSQL backend for the test suites: a server found through the
/// `POSTGRES_URL` environment variable (`scripts/postgres start` prints one),
/// and a fresh PostgreSQL schema per store so that tests run in parallel
/// without seeing each other.
///
/// Without `POSTGRES_URL`, every store it makes fails with a message that says
/// how to start a server: a missing server must not pass for a passing
/// backend. `REDML_SKIP_POSTGRES=1` leaves the backend out instead.
package enum PostgresBackend {
    /// Whether `REDML_SKIP_POSTGRES=1` asks to leave PostgreSQL out.
    package static var isSkipped: Bool {
        ProcessInfo.processInfo.environment["REDML_SKIP_POSTGRES"] == "1"
    }

    /// The fixtures to add to ``Backends/allFixtures()``: none when skipped.
    package static func fixtures() -> [MLStoreFixture] {
        isSkipped ? [] : [fixture]
    }

    /// The server's URL, or an error that says how to get one.
    package static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["POSTGRES_URL"], !url.isEmpty else {
            throw PostgresUnavailable(
                "POSTGRES_URL is not set, so the PostgreSQL tests cannot run. Start a throwaway server with "
                    + "eval \"$(scripts/postgres start)\" (scripts/test does it), or set REDML_SKIP_POSTGRES=1 "
                    + "to leave the PostgreSQL backend out")
        }
        return url
    }

    /// One pool for the whole test process, shared by every store the fixture
    /// makes (one per schema), so parallel tests do not open a pool each.
    ///
    /// It runs in a detached task for as long as the process lives: nothing in
    /// a test process scopes it, and the process's exit closes its connections.
    package static func sharedClient() throws -> PostgresClient {
        try shared.get()
    }

    private static let shared: Result<PostgresClient, PostgresUnavailable> = {
        do {
            var configuration = try PostgresMLPersistence.clientConfiguration(url: try url())
            // Each running worker pool keeps one connection LISTENing and, while it rescues, one holding
            // the rescuer role; parallel tests run many pools (the throwaway server allows 300).
            configuration.options.maximumConnections = 200
            let client = PostgresClient(configuration: configuration)
            Task.detached { await client.run() }
            return .success(client)
        } catch let error as PostgresUnavailable {
            return .failure(error)
        } catch {
            return .failure(PostgresUnavailable("POSTGRES_URL is not usable: \(error)"))
        }
    }()

    /// A schema name no other test uses.
    package static func uniqueSchemaName() -> String {
        "redml_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// A new store in a new schema on the shared pool, with its schema migrated.
    package static func makeStore(schema: String = uniqueSchemaName(), blobChunkSize: Int = 1 << 20) async throws
        -> PostgresMLPersistence
    {
        let store = try PostgresMLPersistence(client: try sharedClient(), schema: schema, blobChunkSize: blobChunkSize)
        try await store.migrate()
        return store
    }

    /// Drops a schema and everything in it.
    package static func dropSchema(_ schema: String) async throws {
        try await sharedClient().query("DROP SCHEMA IF EXISTS \(unescaped: "\"\(schema)\"") CASCADE")
    }

    /// The PostgreSQL backend, one new schema per store. The schemas stay until
    /// the throwaway server is stopped; ``withFixture(_:)`` drops its own.
    /// The fixture's name in test names and `REDML_TEST_BACKENDS`.
    package static let fixtureName = "postgres"

    package static let fixture = makeFixture(track: nil)

    /// Runs `body` with a fixture whose schemas are dropped when it returns or throws.
    package static func withFixture<T>(_ body: (MLStoreFixture) async throws -> T) async throws -> T {
        let created = SchemaList()
        let fixture = makeFixture(track: created)
        do {
            let result = try await body(fixture)
            try await created.dropAll()
            return result
        } catch {
            try? await created.dropAll()
            throw error
        }
    }

    private static func makeFixture(track: SchemaList?) -> MLStoreFixture {
        MLStoreFixture(
            name: fixtureName,
            makeStore: {
                let schema = uniqueSchemaName()
                track?.add(schema)
                return try await makeStore(schema: schema)
            },
            tamperWithBlob: { store, sha256 in
                guard let postgres = store as? PostgresMLPersistence else {
                    throw MLConformanceFailure("the postgres fixture got a \(type(of: store))")
                }
                try await postgres.tamperWithBlob(sha256: sha256)
            })
    }

    /// The schemas one fixture made.
    private final class SchemaList: Sendable {
        private let names = Mutex<[String]>([])

        func add(_ name: String) { names.withLock { $0.append(name) } }

        func dropAll() async throws {
            for name in names.withLock({ $0 }) {
                try await PostgresBackend.dropSchema(name)
            }
        }
    }
}

/// Why the PostgreSQL tests cannot reach a server.
package struct PostgresUnavailable: Error, CustomStringConvertible, Sendable {
    /// What is missing and how to provide it.
    package let description: String

    init(_ description: String) {
        self.description = description
    }
}
