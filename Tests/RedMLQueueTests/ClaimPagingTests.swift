import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

@testable import RedMLQueue

/// Claims that pass over jobs of kinds their worker does not run: how far one
/// claim looks, where the next goes on, and that no job is left behind.
///
/// A job table (PostgreSQL) picks only the kinds asked for, so it passes over
/// nothing and saves no place: the tests of the saved place run on the
/// key-value layout only, and the test that no job is left behind on every backend.
@Suite("Claim paging")
struct ClaimPagingTests {
    static let other: MLJob.Kind = "embed_images"
    static let mine: Set<MLJob.Kind> = [.train]

    /// `count` jobs of another kind at `priority`, submitted in one write.
    func submitOthers(_ queue: MLJobQueue, _ count: Int, priority: Int = 0) async throws {
        _ = try await queue.submitJobs((0..<count).map {
            MLJobSubmission(kind: Self.other, target: "o\($0)", priority: priority)
        })
    }

    func claim(_ queue: MLJobQueue, limit: Int = 1) async throws -> (ids: [UInt128], exhausted: Bool) {
        let (jobs, exhausted) = try await queue.claimReporting(
            queue: "default", worker: "w", leaseMs: 60_000, limit: limit, kinds: Self.mine)
        return (jobs.map(\.job.id), exhausted)
    }

    /// The saved place is used once: a job that lands between the head and
    /// that place (here a higher-priority one submitted meanwhile) waits one
    /// claim, not behind every job after the place.
    @Test(arguments: Backends.keyValueJobFixtures())
    func aJobBeforeTheSavedPlaceIsNotLeftBehind(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await submitOthers(h.queue, 1, priority: 10)
        try await submitOthers(h.queue, 1_200)
        let first = try await claim(h.queue)
        #expect(first.ids.isEmpty && !first.exhausted, "a fresh place: look again at once")
        let urgent = try await h.queue.submit(MLJobSubmission(kind: .train, target: "urgent", priority: 5))
        var later: [UInt128] = []
        for index in 0..<3 {
            later.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "later\(index)")))
        }
        var claimed: [UInt128] = []
        for _ in 0..<3 { claimed += try await claim(h.queue).ids }
        #expect(claimed.contains(urgent), "claimed \(claimed), urgent \(urgent)")
        #expect(claimed.count >= 2)
        #expect(Set(claimed).isSubset(of: Set(later + [urgent])))
    }

    /// A claim that filled its slots is not exhausted, even when it read to
    /// the end of the queue: the jobs after the last one it took are left, and
    /// its claim loop must look again when a slot frees up.
    @Test(arguments: Backends.allFixtures())
    func aFullClaimIsNotExhausted(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await submitOthers(h.queue, 40, priority: 5)
        let mine = try await h.queue.submitJobs((0..<3).map { MLJobSubmission(kind: .train, target: "m\($0)") })
        let full = try await claim(h.queue, limit: 2)
        #expect(full.ids == mine.prefix(2).map(\.id) && !full.exhausted, "\(full)")
        let last = try await claim(h.queue, limit: 2)
        #expect(last.ids == [mine[2].id] && last.exhausted, "\(last)")
    }

    /// A pool with more free slots than the scan limit still reaches a job
    /// behind more than a scan's worth of others.
    @Test(arguments: Backends.allFixtures())
    func manyFreeSlotsStillReachAJobPastTheScanLimit(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await submitOthers(h.queue, 1_500)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        var claimed: [UInt128] = []
        for _ in 0..<4 where claimed.isEmpty { claimed += try await claim(h.queue, limit: 1_200).ids }
        #expect(claimed == [id])
    }

    /// A queue of nothing but others' jobs: a claim that saved a place says
    /// "look again", the one that used it says "wait", so a wake-up costs at
    /// most two claims, never a busy loop.
    @Test(arguments: Backends.keyValueJobFixtures())
    func othersOnlyCostAtMostTwoClaimsPerWakeUp(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await submitOthers(h.queue, 2_500)
        var outcomes: [Bool] = []
        for _ in 0..<6 {
            let result = try await claim(h.queue)
            #expect(result.ids.isEmpty)
            outcomes.append(result.exhausted)
        }
        #expect(outcomes.first == false, "\(outcomes)")
        #expect(!zip(outcomes, outcomes.dropFirst()).contains { !$0 && !$1 }, "two 'look again' in a row: \(outcomes)")
    }
}
