import RedML
import RedMLPostgres
import Testing

/// Checks of the URL, the schema name and the settings, made before anything connects.
@Suite("PostgreSQL configuration")
struct ConfigurationTests {
    @Test(
        "malformed URLs and settings are refused with invalid_argument naming the problem",
        arguments: [
            ("mysql://u@h/db", "scheme must be postgres or postgresql"),
            ("postgres:///db", "no host"),
            ("postgres://h:5432/db", "no user name"),
            ("postgres://u:secret@h/db?sslmode=sometimes", "sslmode 'sometimes' is not one of disable, allow, prefer"),
            ("postgres://u:secret@h/db?connect_timeout=3", "unsupported parameter 'connect_timeout'"),
        ])
    func badURL(_ url: String, _ message: String) throws {
        let error = #expect(throws: MLPersistenceError.self) { _ = try PostgresMLPersistence(url: url) }
        #expect(error?.code == "invalid_argument")
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.contains("secret") == false, "the password must not appear in the message")
    }

    @Test("every sslmode of libpq is accepted", arguments: ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
    func sslModes(_ mode: String) throws {
        _ = try PostgresMLPersistence(url: "postgresql://user:p%40ss@db.example:6543/app?sslmode=\(mode)")
    }

    @Test("schema names that would need quoting or collide with PostgreSQL's are refused",
          arguments: ["", "Upper", "has space", "a\"b", "pg_catalog", "1starts_with_digit", String(repeating: "x", count: 64)])
    func badSchema(_ schema: String) throws {
        let error = #expect(throws: MLPersistenceError.self) {
            _ = try PostgresMLPersistence(url: "postgres://u@h/db", schema: schema)
        }
        #expect(error?.code == "invalid_argument")
    }

    @Test("a store whose pool is not running fails at once instead of waiting forever")
    func notRunning() async throws {
        let store = try PostgresMLPersistence(url: "postgres://u@127.0.0.1:1/db?sslmode=disable")
        let error = await #expect(throws: MLPersistenceError.self) {
            _ = try await store.get(namespace: MLNamespace.models, key: "m")
        }
        #expect(error?.code == "backend")
        #expect(error?.description.contains("withPersistence") == true, "\(String(describing: error))")
    }
}
