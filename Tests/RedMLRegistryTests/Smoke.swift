import Foundation
import RedML
import Testing

@Test func registerAndReadBack() async throws {
    let registry = MLModelRegistry(store: InMemoryMLPersistence())
    let v1 = try await registry.register(MLRegistration(model: "spam"), weights: Data("w1".utf8))
    #expect(v1.version == 1)
    #expect(try await registry.activeVersion(of: "spam")?.version == 1)
}
