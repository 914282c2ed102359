import RedMLTestFixtures
import RedMLTesting
import Testing

/// Every conformance case on PostgreSQL, each in schemas of its own that are dropped afterwards.
@Suite("PostgreSQL conformance", .needsPostgres)
struct ConformanceTests {
    @Test(arguments: MLStoreConformance.cases)
    func conforms(_ conformance: MLConformanceCase) async throws {
        try await PostgresBackend.withFixture { fixture in
            try await conformance.run(fixture)
        }
    }
}
