import RedML
import RedMLTesting
import Testing

/// The shared claiming conformance on the in-memory store, through two
/// references to one store (what two pools in one process share).
@Suite("In-memory claims")
struct InMemoryClaimTests {
    @Test(arguments: MLClaimingConformance.cases)
    func conforms(_ conformance: MLClaimingConformance.Case) async throws {
        try await conformance.run { body in
            let store = InMemoryMLPersistence()
            try await body(store, store)
        }
    }
}
