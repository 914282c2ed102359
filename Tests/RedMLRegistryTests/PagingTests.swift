import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Pages of versions, models and history, with cursors and filters.
@Suite("Paging")
struct PagingTests {
    /// Walks every page of `query`, returning the version numbers per page.
    private func versionPages(
        _ registry: MLModelRegistry, _ model: String, _ query: MLVersionQuery
    ) async throws -> [[UInt32]] {
        var pages: [[UInt32]] = []
        var query = query
        while true {
            let page = try await registry.versions(of: model, query)
            #expect(page.skipped.isEmpty)
            pages.append(page.versions.map(\.version))
            guard let cursor = page.nextCursor else { return pages }
            #expect(cursor == page.versions.last?.version)
            query.after = cursor
            if pages.count > 100 {
                Issue.record("paging does not end")
                return pages
            }
        }
    }

    @Test(arguments: Backends.allFixtures())
    func versionsOldestAndNewestFirst(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for _ in 0..<7 { try await register(registry, "spam") }
        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 3)) == [[1, 2, 3], [4, 5, 6], [7]])
        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 3, newestFirst: true))
                == [[7, 6, 5], [4, 3, 2], [1]])
        // Pages that divide evenly end without an empty extra page.
        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 7)) == [[1, 2, 3, 4, 5, 6, 7]])
        #expect(try await registry.versions(of: "spam", MLVersionQuery(limit: 7)).nextCursor == nil)
        // Starting cursors.
        #expect(try await registry.versions(of: "spam", MLVersionQuery(after: 5)).versions.map(\.version) == [6, 7])
        #expect(try await registry.versions(of: "spam", MLVersionQuery(after: 3, newestFirst: true)).versions
                .map(\.version) == [2, 1])
        #expect(try await registry.versions(of: "spam", MLVersionQuery(after: 7)).versions.isEmpty)
        #expect(try await registry.versions(of: "spam", MLVersionQuery(after: 1, newestFirst: true)).versions.isEmpty)
        #expect(try await registry.versions(of: "spam", MLVersionQuery(after: 100, newestFirst: true)).versions
                .map(\.version) == [7, 6, 5, 4, 3, 2, 1])
        #expect(try await registry.versions(of: "spam").versions.map(\.version) == Array(1...7))
    }

    @Test(arguments: Backends.allFixtures())
    func versionsFilteredByArchivedAndTag(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for index in 1...9 {
            try await register(registry, "spam", tags: index % 3 == 0 ? ["stage": "prod"] : index % 3 == 1 ? ["stage": "dev"] : [:])
        }
        for number: UInt32 in [1, 2, 4, 6] { try await registry.archive("spam", version: number) }

        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 2, archived: true)).flatMap { $0 }
                == [1, 2, 4, 6])
        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 2, archived: false)).flatMap { $0 }
                == [3, 5, 7, 8, 9])
        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 2, newestFirst: true, archived: false))
                .flatMap { $0 } == [9, 8, 7, 5, 3])
        #expect(try await versionPages(registry, "spam", MLVersionQuery(limit: 2, tag: MLTagFilter(key: "stage")))
                .flatMap { $0 } == [1, 3, 4, 6, 7, 9])
        #expect(try await versionPages(
            registry, "spam", MLVersionQuery(limit: 1, tag: MLTagFilter(key: "stage", value: "prod"))).flatMap { $0 }
                == [3, 6, 9])
        #expect(try await versionPages(
            registry, "spam", MLVersionQuery(limit: 5, archived: false, tag: MLTagFilter(key: "stage", value: "dev")))
                .flatMap { $0 } == [7])
        #expect(try await registry.versions(of: "spam", MLVersionQuery(tag: MLTagFilter(key: "missing"))).versions
                .isEmpty)
        // A full filtered page holds exactly `limit` matches.
        let first = try await registry.versions(of: "spam", MLVersionQuery(limit: 2, archived: false))
        #expect(first.versions.map(\.version) == [3, 5])
        #expect(first.nextCursor == 5)
    }

    @Test(arguments: Backends.allFixtures())
    func modelsPagedInNameOrderWithTagFilter(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        let names = ["delta", "alpha", "echo", "charlie", "bravo"]
        for name in names { try await register(registry, name) }
        try await registry.updateModel("alpha", tags: ["team": "mail"])
        try await registry.updateModel("charlie", tags: ["team": "search"])
        try await registry.updateModel("echo", tags: ["team": "mail", "tier": "1"])

        var pages: [[String]] = []
        var query = MLModelQuery(limit: 2)
        while true {
            let page = try await registry.models(query)
            pages.append(page.models.map(\.name))
            guard let cursor = page.nextCursor, pages.count < 10 else { break }
            #expect(cursor == page.models.last?.name)
            query.after = cursor
        }
        #expect(pages.flatMap { $0 } == ["alpha", "bravo", "charlie", "delta", "echo"])
        #expect(pages.first == ["alpha", "bravo"])

        let descending = try await registry.models(MLModelQuery(limit: 3, descending: true))
        #expect(descending.models.map(\.name) == ["echo", "delta", "charlie"])
        let rest = try await registry.models(MLModelQuery(after: descending.nextCursor, descending: true))
        #expect(rest.models.map(\.name) == ["bravo", "alpha"])
        #expect(rest.nextCursor == nil)

        let mail = try await registry.models(MLModelQuery(tag: MLTagFilter(key: "team", value: "mail")))
        #expect(mail.models.map(\.name) == ["alpha", "echo"])
        #expect(mail.models.allSatisfy { $0.tags["team"] == "mail" })
        let anyTeam = try await registry.models(MLModelQuery(limit: 2, tag: MLTagFilter(key: "team")))
        #expect(anyTeam.models.map(\.name) == ["alpha", "charlie"])
        let anyTeamRest = try await registry.models(
            MLModelQuery(after: anyTeam.nextCursor, limit: 2, tag: MLTagFilter(key: "team")))
        #expect(anyTeamRest.models.map(\.name) == ["echo"])
        #expect(try await registry.models(MLModelQuery(tag: MLTagFilter(key: "tier", value: "2"))).models.isEmpty)
        // Models carry their pointers and counters.
        let alpha = try #require(try await registry.models().models.first)
        #expect(alpha == (try await registry.model("alpha")))
    }

    @Test(arguments: Backends.allFixtures())
    func historyPagedBothWays(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for _ in 0..<4 { try await register(registry, "spam") }  // 8 events
        try await registry.setAlias("champion", of: "spam", to: 1)  // 9
        try await registry.activate("spam", version: 2)  // 10
        try await registry.setAlias("champion", of: "spam", to: 3)  // 11

        func walk(_ query: MLHistoryQuery) async throws -> [[UInt64]] {
            var pages: [[UInt64]] = []
            var query = query
            while true {
                let page = try await registry.history(of: "spam", query)
                pages.append(page.events.map(\.sequence))
                guard let cursor = page.nextCursor, pages.count < 50 else { return pages }
                #expect(cursor == page.events.last?.sequence)
                query.after = cursor
            }
        }
        let ascending = try await walk(MLHistoryQuery(limit: 4))
        #expect(ascending.flatMap { $0 } == Array(1...11))
        #expect(Array(ascending.prefix(3)) == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11]])
        let descending = try await walk(MLHistoryQuery(limit: 4, newestFirst: true))
        #expect(descending.flatMap { $0 } == Array((1...11).reversed()))
        #expect(descending.first == [11, 10, 9, 8])
        // Filters page over matching events only.
        let activations = try await walk(MLHistoryQuery(limit: 2, kinds: [.activated]))
        #expect(activations.flatMap { $0 } == [2, 4, 6, 8, 10])
        #expect(activations.first == [2, 4])
        let champion = try await walk(MLHistoryQuery(limit: 1, newestFirst: true, alias: "champion"))
        #expect(champion.flatMap { $0 } == [11, 9])
        // A cursor in the middle.
        let middle = try await registry.history(of: "spam", MLHistoryQuery(after: 5, limit: 3))
        #expect(middle.events.map(\.sequence) == [6, 7, 8])
        let middleBack = try await registry.history(of: "spam", MLHistoryQuery(after: 5, limit: 3, newestFirst: true))
        #expect(middleBack.events.map(\.sequence) == [4, 3, 2])
    }
}
