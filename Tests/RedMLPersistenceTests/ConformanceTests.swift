import RedMLTesting
import RedMLTestFixtures
import Testing

/// Every conformance case on every backend.
@Suite("Conformance")
struct ConformanceTests {
    /// A failure throws ``MLConformanceFailure``, whose description gives the
    /// check's place, what was expected and what was found.
    @Test(arguments: Backends.allFixtures(), MLStoreConformance.cases)
    func conforms(_ fixture: MLStoreFixture, _ conformance: MLConformanceCase) async throws {
        try await conformance.run(fixture)
    }

    @Test func caseNamesAreUnique() {
        let names = MLStoreConformance.cases.map(\.name)
        #expect(Set(names).count == names.count, "duplicate case names: \(names)")
    }
}
