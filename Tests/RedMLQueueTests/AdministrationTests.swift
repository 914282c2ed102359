import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Retention, input validation and listing.
@Suite("Administration")
struct AdministrationTests {
    @Test(arguments: Backends.allFixtures())
    func pruneDeletesOldFinishedJobsWithTheirHistoryButNotLiveOnes(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let release = Gate()
        let workers = h.start(workerConfiguration(count: 2)) { workers in
            workers.register(.train) { job in
                if job.job.target == "fail" { throw MLJobFailure("bad", retryable: false) }
                if job.job.target == "running" { await release.wait() }
                return [:]
            }
        }
        let completed = try await h.queue.submit(MLJobSubmission(kind: .train, target: "ok"))
        let failed = try await h.queue.submit(MLJobSubmission(kind: .train, target: "fail"))
        try await waitForStatus(h.queue, completed, .completed)
        try await waitForStatus(h.queue, failed, .failed)
        // In a queue nobody serves, so that no worker claims it before the cancel.
        let cancelled = try await h.queue.submit(MLJobSubmission(kind: .backfill, target: "c", queue: "idle"))
        #expect(try await h.queue.cancel(cancelled) == .cancelled)

        // A day later: a queued job (in a queue nobody serves), a running one, and one more that finishes.
        h.clock.advance(by: .seconds(86_400))
        let queued = try await h.queue.submit(MLJobSubmission(kind: .train, target: "q", queue: "idle"))
        let running = try await h.queue.submit(MLJobSubmission(kind: .train, target: "running"))
        try await waitForStatus(h.queue, running, .running)
        let recent = try await h.queue.submit(MLJobSubmission(kind: .train, target: "ok"))
        try await waitForStatus(h.queue, recent, .completed)
        let cutoff = date(ms: h.clock.nowMs)

        #expect(try await h.queue.prune(finishedBefore: cutoff, limit: 2) == 2)
        #expect(try await h.queue.prune(finishedBefore: cutoff) == 1)
        #expect(try await h.queue.prune(finishedBefore: cutoff) == 0)
        for id in [completed, failed, cancelled] {
            #expect(try await h.queue.job(id) == nil)
            #expect(try await h.entries(MLNamespace.jobHistory, prefix: MLKey.job(id) + "/").isEmpty)
            await expectJobError(.unknownJob, "history of a pruned job") { try await h.queue.history(of: id) }
        }
        for id in [queued, running, recent] {
            #expect(try await h.queue.job(id) != nil)
            #expect(try await !h.queue.history(of: id).isEmpty)
        }
        #expect(try await h.entries(MLNamespace.jobFinished).count == 1)

        release.open()
        try await waitForStatus(h.queue, running, .completed)
        try await workers.stop()
        #expect(try await h.queue.prune(finishedBefore: date(ms: h.clock.nowMs + 1)) == 2)
        #expect(try await h.queue.jobs().jobs.map(\.id) == [queued])
    }

    @Test(arguments: Backends.allFixtures())
    func concurrentPrunesDeleteEveryJobOnceInGroupedWrites(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let count = 300  // about 4 deletions each: more than one write's worth
        let jobs = try await h.queue.submitJobs((0..<count).map { MLJobSubmission(kind: .train, target: "t\($0)") })
        for job in jobs { #expect(try await h.queue.cancel(job.id) == .cancelled) }
        h.clock.advance(by: .seconds(1))
        let cutoff = date(ms: h.clock.nowMs)
        let queue = h.queue
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<2 { group.addTask { try await queue.prune(finishedBefore: cutoff) } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts.reduce(0, +) == count, "\(counts)")
        #expect(try await h.queue.prune(finishedBefore: cutoff) == 0)
        #expect(try await h.entries(MLNamespace.jobFinished).isEmpty)
        #expect(try await h.entries(MLNamespace.jobHistory).isEmpty)
        #expect(try await h.queue.jobs().jobs.isEmpty)
    }

    static let invalidSubmissions: [(String, MLJobSubmission)] = [
        ("empty kind", MLJobSubmission(kind: "", target: "m")),
        ("kind with a space", MLJobSubmission(kind: "bad kind", target: "m")),
        ("kind with a slash", MLJobSubmission(kind: "a/b", target: "m")),
        ("non-ASCII kind", MLJobSubmission(kind: "träin", target: "m")),
        ("kind too long", MLJobSubmission(kind: MLJob.Kind(rawValue: String(repeating: "k", count: 65)), target: "m")),
        ("empty queue", MLJobSubmission(kind: .train, target: "m", queue: "")),
        ("queue with a slash", MLJobSubmission(kind: .train, target: "m", queue: "gpu/1")),
        ("queue with a newline", MLJobSubmission(kind: .train, target: "m", queue: "gpu\n")),
        ("empty target", MLJobSubmission(kind: .train, target: "")),
        ("target with a control character", MLJobSubmission(kind: .train, target: "a\u{0}b")),
        ("target too long", MLJobSubmission(kind: .train, target: String(repeating: "t", count: 1_025))),
        ("priority above 1000", MLJobSubmission(kind: .train, target: "m", priority: 1_001)),
        ("priority below -1000", MLJobSubmission(kind: .train, target: "m", priority: -1_001)),
        ("maxAttempts 0", MLJobSubmission(kind: .train, target: "m", maxAttempts: 0)),
        ("maxAttempts -1", MLJobSubmission(kind: .train, target: "m", maxAttempts: -1)),
        ("maxAttempts 1001", MLJobSubmission(kind: .train, target: "m", maxAttempts: 1_001)),
        ("NaN in spec", MLJobSubmission(kind: .train, target: "m", spec: ["lr": .double(.nan)])),
        ("infinity nested in spec", MLJobSubmission(kind: .train, target: "m", spec: ["a": ["b": [.double(.infinity)]]])),
        ("empty unique key", MLJobSubmission(kind: .train, target: "m", uniqueKey: "")),
        ("unique key too long", MLJobSubmission(kind: .train, target: "m", uniqueKey: String(repeating: "u", count: 256))),
        ("zero timeout", MLJobSubmission(kind: .train, target: "m", timeout: .zero)),
        ("negative timeout", MLJobSubmission(kind: .train, target: "m", timeout: .seconds(-1))),
    ]

    @Test(arguments: Backends.allFixtures())
    func badInputIsRefusedAndStoresNothing(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        for (what, submission) in Self.invalidSubmissions {
            await expectJobError(.invalidArgument, what) { try await h.queue.submit(submission) }
            await expectJobError(.invalidArgument, what) { try await h.queue.submitJob(submission) }
        }
        for namespace in [MLNamespace.jobs, MLNamespace.jobHistory, MLNamespace.jobReady, MLNamespace.jobScheduled,
                          MLNamespace.jobUnique]
        {
            #expect(try await h.entries(namespace).isEmpty, "\(namespace) is not empty")
        }
        // A run-at past 9999 is named by its number: such a `Date` has no description.
        let late = try await expectJobError(.invalidArgument, "run-at past 9999") {
            try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", runAt: Date(timeIntervalSince1970: 253_402_300_800)))
        }
        #expect(late?.message.contains("got 253402300800.0 s since 1970") == true, "\(String(describing: late))")
        await expectJobError(.invalidArgument, "page limit 0") { try await h.queue.jobs(MLJobQuery(limit: 0)) }
        await expectJobError(.invalidArgument, "page limit 1001") { try await h.queue.jobs(MLJobQuery(limit: 1_001)) }

        // The edges of every range are accepted.
        let edges = [
            MLJobSubmission(kind: "a-B_9.x", target: "m", priority: 1_000, queue: "q.1-x_Y", maxAttempts: 1),
            MLJobSubmission(kind: MLJob.Kind(rawValue: String(repeating: "k", count: 64)), target: String(repeating: "t", count: 1_024),
                            priority: -1_000, maxAttempts: 1_000, uniqueKey: String(repeating: "u", count: 255),
                            timeout: .milliseconds(1)),
        ]
        for submission in edges { _ = try await h.queue.submit(submission) }
        #expect(try await h.queue.jobs().jobs.count == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func jobsFiltersAndPages(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        var trains: [UInt128] = []
        var backfills: [UInt128] = []
        for index in 0..<5 {
            trains.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "t\(index)")))
            h.clock.advance(by: .milliseconds(1))
        }
        for index in 0..<3 {
            backfills.append(try await h.queue.submit(MLJobSubmission(kind: .backfill, target: "b\(index)", queue: "gpu")))
        }
        let all = trains + backfills  // submission order = id order
        #expect(all == all.sorted())
        try await h.queue.cancel(trains[1])
        try await h.queue.cancel(backfills[2])

        #expect(try await h.queue.jobs().jobs.map(\.id) == all.reversed())
        #expect(try await h.queue.jobs(MLJobQuery(oldestFirst: true)).jobs.map(\.id) == all)
        #expect(try await h.queue.jobs(MLJobQuery(status: .cancelled)).jobs.map(\.id) == [backfills[2], trains[1]])
        #expect(try await h.queue.jobs(MLJobQuery(status: .queued, kind: .backfill)).jobs.map(\.id)
            == [backfills[1], backfills[0]])
        #expect(try await h.queue.jobs(MLJobQuery(kind: .train)).jobs.map(\.id) == trains.reversed())
        #expect(try await h.queue.jobs(MLJobQuery(queue: "gpu")).jobs.map(\.id) == backfills.reversed())
        #expect(try await h.queue.jobs(MLJobQuery(oldestFirst: true, queue: "default")).jobs.map(\.id) == trains)
        #expect(try await h.queue.jobs(MLJobQuery(status: .running)).jobs.isEmpty)
        #expect(try await h.queue.jobs(MLJobQuery(queue: "nowhere")).nextCursor == nil)

        // Pages of 3, newest first, then oldest first, then filtered.
        for (query, expected) in [
            (MLJobQuery(limit: 3), Array(all.reversed())),
            (MLJobQuery(limit: 3, oldestFirst: true), all),
            (MLJobQuery(limit: 2, kind: .train), Array(trains.reversed())),
            (MLJobQuery(limit: 1, oldestFirst: true, status: .queued), all.filter { $0 != trains[1] && $0 != backfills[2] }),
            (MLJobQuery(limit: 8), Array(all.reversed())),
        ] {
            var collected: [UInt128] = []
            var pages = 0
            var request = query
            while true {
                let page = try await h.queue.jobs(request)
                #expect(page.jobs.count <= query.limit)
                #expect(page.skipped.isEmpty)
                collected += page.jobs.map(\.id)
                pages += 1
                guard let cursor = page.nextCursor, pages < 20 else { break }
                request.after = cursor
            }
            #expect(collected == expected, "query \(query)")
            #expect(pages <= (expected.count + query.limit - 1) / query.limit + 1)
        }
    }
}
