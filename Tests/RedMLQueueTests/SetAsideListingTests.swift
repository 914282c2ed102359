import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

@testable import RedMLQueue

/// `status: .setAside` lists the jobs the queue cannot run, on every backend:
/// those a job table set aside, and on the key-value layout, which has no
/// such state, the records a listing cannot read.
@Suite("Listing the jobs set aside")
struct SetAsideListingTests {
    @Test(arguments: Backends.allFixtures())
    func theJobsSetAsideAreListedWithWhatIsWrong(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let good = try await h.queue.submit(MLJobSubmission(kind: .train, target: "good"))
        var damaged: [UInt128] = []
        for target in ["first", "second"] {
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: target, priority: 5))
            try await JobDamage.replaceRecord(of: id, in: h.store, with: "{oops")
            damaged.append(id)
        }
        // A claim meets them: a job table sets them aside, the key-value layout drops their ready entries.
        let claimed = try await h.queue.claim(queue: "default", worker: "w", leaseMs: 60_000, limit: 10)
        #expect(claimed.map(\.job.id) == [good])

        let page = try await h.queue.jobs(MLJobQuery(status: .setAside))
        #expect(page.jobs.isEmpty && page.skipped.isEmpty && page.nextCursor == nil)
        #expect(page.setAside.map(\.id) == damaged.reversed().map(Optional.some), "newest first: \(page.setAside)")
        for job in page.setAside {
            let key = MLKey.job(try #require(job.id))
            #expect(job.record == "jobs/\(key)")
            #expect(job.problem.description.contains("jobs/\(key)") && job.problem.description.contains("not valid JSON"),
                    "\(job.problem)")
        }
        // Named as the unfiltered listing names them under skipped.
        let all = try await h.queue.jobs()
        #expect(all.jobs.map(\.id) == [good] && all.setAside.isEmpty)
        #expect(Set(all.skipped.map(\.description)) == Set(page.setAside.map(\.problem.description)))
        // Paged like any listing.
        let first = try await h.queue.jobs(MLJobQuery(limit: 1, oldestFirst: true, status: .setAside))
        #expect(first.setAside.map(\.id) == [damaged[0]] && first.nextCursor == damaged[0])
        let second = try await h.queue.jobs(MLJobQuery(after: first.nextCursor, limit: 1, oldestFirst: true, status: .setAside))
        #expect(second.setAside.map(\.id) == [damaged[1]])
    }
}
