import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// The append-only history: "which version was active at T" and "who moved champion, when".
@Suite("History")
struct HistoryTests {
    @Test(arguments: Backends.allFixtures())
    func activeVersionAtTime(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        let t0 = clock.nowMs
        try await register(registry, "spam")  // t0: v1 active
        clock.advance(seconds: 10)
        try await register(registry, "spam")  // t0+10s: v2 active
        clock.advance(seconds: 5)
        try await register(registry, "spam", activate: false)  // t0+15s: v3, not active
        clock.advance(seconds: 5)
        try await registry.activate("spam", version: 1)  // t0+20s: rollback to v1
        clock.advance(seconds: 10)
        try await registry.deactivate("spam")  // t0+30s: nothing active
        clock.advance(seconds: 10)
        try await registry.activate("spam", version: 3)  // t0+40s: v3 active

        func at(_ offsetMs: Int64) async throws -> UInt32? {
            try await registry.activeVersion(of: "spam", at: FakeClock.date(t0 + offsetMs))
        }
        #expect(try await at(-1) == nil)
        #expect(try await at(0) == 1)
        #expect(try await at(9_999) == 1)
        #expect(try await at(10_000) == 2)
        #expect(try await at(17_000) == 2)
        #expect(try await at(19_999) == 2)
        #expect(try await at(20_000) == 1)
        #expect(try await at(29_999) == 1)
        #expect(try await at(30_000) == nil)
        #expect(try await at(39_999) == nil)
        #expect(try await at(40_000) == 3)
        #expect(try await at(1_000_000_000) == 3)
    }

    @Test(arguments: Backends.allFixtures())
    func sameMillisecondEventsResolveToTheLastOne(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        try await register(registry, "spam")
        try await register(registry, "spam")
        try await registry.activate("spam", version: 1)
        // Three activations at one instant: the last one is what was active then.
        #expect(try await registry.activeVersion(of: "spam", at: clock.now) == 1)
    }

    /// Another process whose clock runs 5 s behind activates a later version:
    /// its events are stamped no earlier than the model's last change, so
    /// times follow the history's order and a point-in-time lookup before the
    /// first activation still finds nothing.
    @Test(arguments: Backends.allFixtures())
    func aProcessWithASlowClockDoesNotRewriteThePast(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (store, registry) = try await makeRegistry(fixture, clock: clock)
        let t0 = clock.nowMs
        try await register(registry, "spam")  // v1, active at t0
        let slow = FakeClock()
        slow.set(ms: t0 - 5_000)
        let behind = MLModelRegistry(store: store, configuration: configuration(clock: slow))
        try await register(behind, "spam")  // v2, active "at t0 - 5 s" by its own clock
        let events = try await registry.history(of: "spam").events
        #expect(events.map(\.atMs) == events.map(\.atMs).sorted(), "event times go back: \(events.map(\.atMs))")
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(t0 - 1)) == nil)
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(t0)) == 2)
        #expect(try await registry.version("spam", 2).createdAtMs == t0)
    }

    @Test(arguments: Backends.allFixtures())
    func activeVersionAtTimeLooksPastOnePageOfHistory(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        let t0 = clock.nowMs
        try await register(registry, "spam")  // v1 active at t0
        clock.advance()
        try await register(registry, "spam", activate: false)
        // More activations after t0 than one 500-event page of history holds.
        for index in 0..<520 {
            clock.advance()
            try await registry.activate("spam", version: index % 2 == 0 ? 2 : 1)
        }
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(t0)) == 1)
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(t0 + 2_000)) == 2)
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(t0 + 3_000)) == 1)
        #expect(try await registry.activeVersion(of: "spam", at: FakeClock.date(t0 - 1)) == nil)
        #expect(try await registry.activeVersion(of: "spam", at: clock.now) == 1)
    }

    @Test(arguments: Backends.allFixtures())
    func whoMovedChampionAndWhen(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (_, registry) = try await makeRegistry(fixture, clock: clock)
        for _ in 0..<3 { try await register(registry, "spam", by: "trainer") }
        clock.advance(seconds: 60)
        let t1 = clock.nowMs
        try await registry.setAlias("champion", of: "spam", to: 1, by: "alice")
        clock.advance(seconds: 60)
        try await registry.setAlias("staging", of: "spam", to: 3, by: "mallory")
        clock.advance(seconds: 60)
        let t2 = clock.nowMs
        try await registry.setAlias("champion", of: "spam", to: 2, expecting: .pointsAt(1), by: "bob")
        clock.advance(seconds: 60)
        let t3 = clock.nowMs
        try await registry.removeAlias("champion", of: "spam", by: "carol")

        let page = try await registry.history(of: "spam", MLHistoryQuery(newestFirst: true, alias: "champion"))
        #expect(page.nextCursor == nil)
        #expect(page.events.map(\.kind) == [.aliasRemoved, .aliasMoved, .aliasMoved])
        #expect(page.events.map(\.actor) == ["carol", "bob", "alice"])
        #expect(page.events.map(\.atMs) == [t3, t2, t1])
        #expect(page.events.map(\.at) == [FakeClock.date(t3), FakeClock.date(t2), FakeClock.date(t1)])
        #expect(page.events.map(\.version) == [nil, 2, 1])
        #expect(page.events.map(\.previousVersion) == [2, 1, nil])
        #expect(page.events.allSatisfy { $0.alias == "champion" && $0.model == "spam" })
        // Registrations are attributed to who registered.
        let registered = try await registry.history(of: "spam", MLHistoryQuery(kinds: [.registered])).events
        #expect(registered.count == 3)
        #expect(registered.allSatisfy { $0.actor == "trainer" })
    }

    @Test(arguments: Backends.allFixtures())
    func sequencesAreContiguousAndMatchTheEventCount(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam", activate: false)
        try await registry.setAlias("champion", of: "spam", to: 2)
        try await registry.activate("spam", version: 2)
        try await registry.archive("spam", version: 1)
        try await registry.updateModel("spam", description: "d")
        try await register(registry, "other")
        let events = try await allEvents(registry, "spam")
        #expect(events.map(\.sequence) == Array(1...UInt64(events.count)))
        #expect(events.count == 7)
        #expect(events.allSatisfy { $0.model == "spam" })
        #expect(try await registry.model("spam").eventCount == UInt64(events.count))
        // One stored record per event, under the documented key.
        let stored = try await store.list(namespace: MLNamespace.modelHistory).map(\.key)
        #expect(Set(stored.filter { $0.hasPrefix("spam/") })
                == Set(events.map { MLKey.modelEvent("spam", $0.sequence) }))
        #expect(MLKey.modelEvent("spam", 7) == "spam/00000000000000000007")
    }

    @Test(arguments: Backends.allFixtures())
    func historyKindFilter(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        for _ in 0..<3 { try await register(registry, "spam") }
        try await registry.activate("spam", version: 1)
        try await registry.archive("spam", version: 2)
        let page = try await registry.history(of: "spam", MLHistoryQuery(kinds: [.activated, .archived]))
        #expect(page.events.map(\.kind) == [.activated, .activated, .activated, .activated, .archived])
        #expect(page.events.map(\.version) == [1, 2, 3, 1, 2])
        #expect(page.events.map(\.previousVersion) == [nil, 1, 2, 3, nil])
    }

    @Test(arguments: Backends.allFixtures())
    func historiesOfModelsWithSharedPrefixesStaySeparate(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam")
        try await register(registry, "spam2")
        try await register(registry, "spam2")
        try await register(registry, "spa")
        #expect(try await allEvents(registry, "spam").count == 2)
        #expect(try await allEvents(registry, "spam2").count == 4)
        #expect(try await allEvents(registry, "spa").count == 2)
        #expect(try await allEvents(registry, "spam").allSatisfy { $0.model == "spam" })
    }
}
