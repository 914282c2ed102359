import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Probes of what an MLflow user expects of the registry, beyond the other suites.
@Suite("Semantics probes")
struct SemanticsProbeTests {
    @Test(arguments: Backends.allFixtures())
    func aMissingWeightsFileIsAnInvalidArgumentNamingTheFile(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        let before = try await snapshot(store)
        let file = try scratchFolder().appendingPathComponent("no-such-weights.bin")
        let error = await expectRegistryError(.invalidArgument, mentioning: ["no-such-weights.bin"]) {
            try await registry.register(MLRegistration(model: "spam"), weightsFile: file)
        }
        #expect(error?.model == "spam")
        #expect(try await snapshot(store) == before)
    }
}
