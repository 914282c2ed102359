import Foundation
import RedMLTestFixtures
import Testing

/// A PostgreSQL store the server refuses is reported in the server's words,
/// long before the connect timeout (30 s here, so that the timeout's generic
/// message cannot be what the tests see).
@Suite("PostgreSQL connection errors", .enabled(if: !PostgresBackend.isSkipped, "REDML_SKIP_POSTGRES=1"))
struct PostgresConnectErrorTests {
    @Test("a wrong password is named as such, without the password")
    func wrongPassword() async throws {
        let url = try Self.serverURL { $0.password = "not-the-password" }
        let result = try await Self.jobsList(url)
        expectCleanFailure(result, mentioning: "password authentication failed for user")
        #expect(result.stderr.contains("cannot connect to PostgreSQL at"), "\(result)")
        #expect(!result.stderr.contains("not-the-password"), "\(result)")
    }

    @Test("a database that does not exist is named")
    func missingDatabase() async throws {
        let url = try Self.serverURL { $0.path = "/redml_no_such_database" }
        expectCleanFailure(try await Self.jobsList(url), mentioning: #"database "redml_no_such_database" does not exist"#)
    }

    @Test("a port nothing listens on is reported as a refused connection")
    func refusedPort() async throws {
        let url = try Self.serverURL { $0.port = 1 }
        expectCleanFailure(try await Self.jobsList(url), mentioning: "connection refused at 127.0.0.1:1")
    }

    /// `POSTGRES_URL` with `change` applied.
    static func serverURL(_ change: (inout URLComponents) -> Void) throws -> String {
        var components = try #require(URLComponents(string: try PostgresBackend.url()))
        change(&components)
        return try #require(components.string)
    }

    static func jobsList(_ url: String) async throws -> RedMLResult {
        let scratch = try ScratchDirectory()
        return try await scratch.redml("jobs", "list", "--store", url, environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": "30"])
    }
}
