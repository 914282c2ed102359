import Foundation
import RedML
import RedMLPostgres
@testable import RedMLQueue
import RedMLTestFixtures
import Synchronization
import Testing

/// Claims that PostgreSQL starts itself (`ml_job_claim`), held to what the
/// queue's own claim writes.
@Suite("PostgreSQL's native claim", .needsPostgres)
struct NativeClaimTests {
    private static let startMs: Int64 = 1_800_000_000_000

    @Test("a claim the table starts itself writes the job and the event the queue's own claim writes")
    func nativeClaimMatchesTheQueue() async throws {
        try await Scratch.withSchemas { schemas in
            let postgres = try await PostgresBackend.makeStore(schema: schemas[0])
            let native = try await Self.claimShapes(on: postgres)
            // jsonb's text (a space after each colon) shows that the table wrote them, not the queue.
            let writtenByTable = try await Scratch.textRows(
                """
                SELECT count(*)::text FROM \(unescaped: "\"\(schemas[0])\"").ml_job
                WHERE record LIKE '%"worker": "w-claim"%'
                """, columns: 1)
            #expect(writtenByTable == ["3"])
            // And they are read on the fast path, spaces and all (but b, whose spec holds numbers
            // the fast path leaves to JSONDecoder however they are written).
            let records = try await Scratch.textRows(
                """
                SELECT record FROM \(unescaped: "\"\(schemas[0])\"").ml_job
                WHERE record::jsonb ->> 'target' <> 'b' ORDER BY key
                """, columns: 1)
            #expect(records.count == 2)
            for record in records { #expect(MLJob.readQuickly(record) != nil, "\(record)") }
            let reference = try await Self.claimShapes(on: InMemoryMLPersistence())
            #expect(native.count == 3)
            #expect(native.map(\.job.target) == reference.map(\.job.target))
            for (claimed, expected) in zip(native, reference) {
                var job = claimed.job
                job.id = expected.job.id
                #expect(job == expected.job, "job \(claimed.job.target)")
                #expect(claimed.event == expected.event, "event of \(claimed.job.target)")
                #expect(claimed.stored == claimed.job, "stored record of \(claimed.job.target)")
            }
            // The second attempt kept what the first left: start time, checkpoint, failure.
            let retried = try #require(native.first { $0.job.target == "c" }).job
            #expect(retried.attempt == 2 && retried.failures == 1 && retried.checkpoint == ["epoch": 3])
            #expect(retried.startedAtMs == Self.startMs && retried.updatedAtMs == Self.startMs + 1_000)
        }
    }

    @Test("a claimed record the queue cannot read is set aside; the rest run")
    func unreadableClaimedRecordIsSetAside() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = MLJobQueue(store: store)
            // JSON the table can start an attempt of, with a field the queue cannot read.
            let damaged = try await Scratch.submitDamagedJob(
                queue, schema: schemas[0], record: #"jsonb_set(record::jsonb, '{progress}', '"high"')::text"#)
            let good = try await queue.submit(MLJobSubmission(kind: .train, target: "good"))
            let claimed = try await queue.claim(queue: "default", worker: "w", leaseMs: 5_000, limit: 10)
            #expect(claimed.map(\.job.id) == [good])
            let rows = try await Scratch.textRows(
                "SELECT status, ready::text, coalesce(lease_expires_at_ms::text, '-') FROM \(unescaped: schema).ml_job WHERE key = \(MLKey.job(damaged))",
                columns: 3)
            #expect(rows == ["set_aside|false|-"])
            // The table claimed it (jsonb's text, the worker named), not the queue's slower path.
            let claimedByTable = try await Scratch.textRows(
                "SELECT (record LIKE '%\"worker\": \"w\"%')::text FROM \(unescaped: schema).ml_job WHERE key = \(MLKey.job(damaged))",
                columns: 1)
            #expect(claimedByTable == ["true"])
            #expect(try await queue.promoteScheduledJobs() == 0)
            #expect(try await queue.claim(queue: "default", worker: "w", leaseMs: 5_000, limit: 10).isEmpty)
        }
    }

    @Test("concurrent single submissions share inserts, and each gets its own answer, duplicates included")
    func concurrentSubmissionsShareInserts() async throws {
        try await Scratch.withSchemas { schemas in
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = MLJobQueue(store: store)
            _ = try await queue.submit(MLJobSubmission(kind: .train, target: "warm-up"))  // the schema exists first
            // 40 jobs at once: inserted alone they would have 40 revisions; together they share inserts.
            let own = try await Self.submitConcurrently(queue, (0..<40).map { MLJobSubmission(kind: .train, target: "own-\($0)") })
            #expect(own.allSatisfy { !$0.isDuplicate } && Set(own.map(\.job.id)).count == 40)
            let revisions = try await Scratch.textRows(
                """
                SELECT count(DISTINCT revision)::text FROM \(unescaped: "\"\(schemas[0])\"").ml_job
                WHERE record::jsonb ->> 'target' LIKE 'own-%'
                """, columns: 1)
            #expect((revisions.first.flatMap { Int($0) } ?? 40) < 30, "\(revisions)")
            // 10 with one uniqueness key among 10 without: a group holding two of them fails, and is
            // inserted job by job, so every caller still gets its own answer.
            let mixed = try await Self.submitConcurrently(queue, (0..<20).map { index in
                MLJobSubmission(kind: .train, target: "mixed-\(index)", uniqueKey: index % 2 == 0 ? "u" : nil)
            })
            let keyed = mixed.filter { $0.submitted.uniqueKey != nil }
            #expect(keyed.filter { !$0.isDuplicate }.count == 1, "one keyed submission was inserted")
            #expect(Set(keyed.map(\.job.id)).count == 1, "the others got the job that holds the key")
            let plain = mixed.filter { $0.submitted.uniqueKey == nil }
            #expect(plain.allSatisfy { !$0.isDuplicate && $0.job.target == $0.submitted.target })
            for result in own + mixed { #expect(try await queue.job(result.job.id)?.status == .queued) }
        }
    }

    /// Submits each at once, concurrently; returns each submission with its answer.
    private static func submitConcurrently(
        _ queue: MLJobQueue, _ submissions: [MLJobSubmission]
    ) async throws -> [(submitted: MLJobSubmission, job: MLJob, isDuplicate: Bool)] {
        try await withThrowingTaskGroup(of: (MLJobSubmission, MLJob, Bool).self) { group in
            for submission in submissions {
                group.addTask {
                    let (job, isDuplicate) = try await queue.submitJobOrFindDuplicate(submission)
                    return (submission, job, isDuplicate)
                }
            }
            var results: [(submitted: MLJobSubmission, job: MLJob, isDuplicate: Bool)] = []
            for try await result in group { results.append(result) }
            return results
        }
    }

    /// A claimed job, its `claimed` event, and its record as read back.
    private struct Claimed {
        let job: MLJob
        let event: MLJobEvent?
        let stored: MLJob?
    }

    /// Claims three jobs of different shapes on `store` at fixed times: a
    /// plain one, one with every optional field, and one on its second
    /// attempt (started before, with a checkpoint and a failure); returns
    /// them ordered by target.
    private static func claimShapes(on store: any MLStore) async throws -> [Claimed] {
        let clock = MLManualClock(nowMs: startMs)
        var configuration = MLJobQueue.Configuration()
        configuration.clock = clock
        let queue = MLJobQueue(store: store, configuration: configuration)
        let retried = MLJob.Kind(rawValue: "evaluate")
        _ = try await queue.submit(MLJobSubmission(kind: .train, target: "a"))
        _ = try await queue.submit(MLJobSubmission(
            kind: .train, target: "b",
            spec: ["lr": 0.1, "name": "é ☃ \"q\"\n", "nested": ["a": [1, 2, ["b": nil]]], "big": 12_345_678_901_234,
                   "whole": .double(2), "huge": .double(1e15), "huger": .double(1.5e18), "tiny": .double(-1.5e-7),
                   "past": .double(1e300)],
            priority: 3, maxAttempts: 5, uniqueKey: "u-1", timeout: .seconds(30)))
        _ = try await queue.submit(MLJobSubmission(kind: retried, target: "c", priority: 10))

        // The first attempt of c saves a checkpoint and fails; without backoff it is ready again at once.
        var workerConfiguration = MLJobWorkers.Configuration()
        workerConfiguration.workerID = "w-run"
        workerConfiguration.backoff = MLRetryBackoff(base: .zero, maximum: .zero, jitter: 0)
        let workers = MLJobWorkers(queue: queue, configuration: workerConfiguration)
        workers.register(retried) { job in
            _ = try await job.checkpoint(["epoch": 3], progress: 40)
            workers.beginShutdown()
            throw MLJobFailure("diverged")
        }
        try await workers.run()

        clock.advance(by: .seconds(1))
        let claimed = try await queue.claim(queue: "default", worker: "w-claim", leaseMs: 5_000, limit: 10)
        var result: [Claimed] = []
        for (job, _) in claimed.sorted(by: { $0.job.target < $1.job.target }) {
            let event = try await queue.history(of: job.id).last
            result.append(Claimed(job: job, event: event, stored: try await queue.job(job.id)))
        }
        return result
    }
}
