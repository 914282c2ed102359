import Foundation
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// A PostgreSQL store the server refuses is reported in the server's words,
/// long before the connect timeout (30 s here, so that a test that waited for
/// it would be seen to).
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

    @Test("a port nothing listens on is waited for until the timeout (a server may be starting), then named")
    func refusedPort() async throws {
        let url = try Self.serverURL { $0.port = 1 }
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml(
            "jobs", "list", "--store", url, environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": "4"])
        expectCleanFailure(result, mentioning: "within 4.0 s (connection refused at 127.0.0.1:1)")
    }

    @Test("a schema with no store is refused by a command that reads, and made, with a word, by one that writes")
    func schemaWithoutStore() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            for _ in 0..<2 {
                // Twice: the first refusal must not have made the store (a typo in schema= stays visible).
                let info = try await directory.redml("store", "info", "--store", scratch.url)
                expectCleanFailure(info, mentioning: "no RedML store in schema \(scratch.schema) at ")
                #expect(info.stderr.contains("schema="), "\(info)")
            }
            let submit = try await directory.redml("jobs", "submit", "train", "iris", "--store", scratch.url)
            expectSuccess(submit)
            #expect(submit.stderrLines == [
                "redml: created a new, empty store in schema \(scratch.schema) at \(Self.redacted(scratch.url)); "
                    + "to use an existing one, name its schema with the URL's schema= parameter",
            ], "\(submit)")
            let list = try await directory.redml("jobs", "list", "--store", scratch.url)
            expectSuccess(list)
            #expect(list.stderr.isEmpty, "\(list)")
            #expect(list.stdout.contains("train  iris"), "\(list)")
        }
    }

    @Test("store migrate says it created a store only the first time")
    func migrateReportsCreation() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            let first = try await directory.redml("store", "migrate", "--store", scratch.url, "--json")
            expectSuccess(first)
            #expect(try first.jsonObject()["created"] as? Bool == true, "\(first)")
            let second = try await directory.redml("store", "migrate", "--store", scratch.url, "--json")
            expectSuccess(second)
            #expect(try second.jsonObject()["created"] as? Bool == false, "\(second)")
        }
    }

    static func redacted(_ url: String) -> String { RedMLPostgres.PostgresMLPersistence.redacted(url: url) }

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
