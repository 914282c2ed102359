import Foundation
import RedML
import Testing

/// The registry on one SQLite file shared by several processes.
@Suite("Registry across processes")
struct RegistryProcessTests {
    @Test("4 processes × 50 registrations of one model: versions exactly 1…200, none lost or duplicated")
    func concurrentRegistrations() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("registry.sqlite")
        try SQLiteMLPersistence(path: path).close()
        let agents = try (0..<4).map { try Agent.start("register-loop", path, "race", "50", "agent-\($0)") }
        defer { agents.forEach { $0.kill() } }
        var reported: [UInt32] = []
        for agent in agents {
            try await agent.expectCleanExit(timeout: .seconds(120))
            let numbers = agent.lines.compactMap { $0.hasPrefix("version ") ? UInt32($0.dropFirst(8)) : nil }
            #expect(numbers.count == 50, "\(agent.diagnostics)")
            #expect(numbers == numbers.sorted(), "one process's numbers go up: \(numbers)")
            reported += numbers
        }
        #expect(reported.sorted() == Array(1...200), "what the agents were told")

        let store = try SQLiteMLPersistence(path: path)
        let registry = MLModelRegistry(store: store)
        let model = try await registry.model("race")
        #expect(model.latestVersion == 200)
        #expect(model.activeVersion != nil)
        let versions = try await registry.allVersions(of: "race")
        #expect(versions.map(\.version) == Array(1...200), "what the store holds")
        // Each agent's versions carry its metrics 0…49 in order, and distinct weights.
        for agent in 0..<4 {
            let own = versions.filter { $0.createdBy == "agent-\(agent)" }
            #expect(own.map(\.metrics["i"]) == (0..<50).map { MLJSONValue.int(Int64($0)) })
        }
        #expect(Set(versions.map(\.weights.sha256)).count == 200)
        // Every version registered once, in the one history, with no gap in the sequence.
        var events: [MLRegistryEvent] = []
        var query = MLHistoryQuery(limit: 1_000)
        while true {
            let page = try await registry.history(of: "race", query)
            events += page.events
            guard let cursor = page.nextCursor else { break }
            query.after = cursor
        }
        #expect(events.map(\.sequence) == Array(1...UInt64(events.count)))
        #expect(events.filter { $0.kind == .registered }.compactMap(\.version) == Array(1...200))
        #expect(events.last { $0.kind == .activated }?.version == model.activeVersion)
        // Weights of a version from each agent read back verified.
        for version in [UInt32(1), 100, 200] {
            #expect(try await registry.weightsData(of: "race", version: version).count > 1_024)
        }
        try await StoreHelpers.expectHealthy(store)
        try store.close()
    }
}
