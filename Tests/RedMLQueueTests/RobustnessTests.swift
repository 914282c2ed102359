import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

@testable import RedMLQueue

/// Damage and slow handlers must not stall the queue or let a job run twice.
@Suite("Robustness")
struct RobustnessTests {
    /// (PostgreSQL's job table has its own version of this test, in RedMLPostgresTests.)
    @Test(arguments: Backends.keyValueJobFixtures())
    func aCorruptJobRecordDoesNotStallTheQueue(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        // A job whose record is then damaged behind the queue's back, ahead of a good one.
        let damaged = try await h.queue.submit(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
        try await h.store.put(namespace: MLNamespace.jobs, key: MLKey.job(damaged), value: "{not json")
        let good = try await h.queue.submit(MLJobSubmission(kind: .train, target: "good"))
        let workers = h.start { workers in workers.register(.train) { _ in ["ok": true] } }
        let done = try await waitForStatus(h.queue, good, .completed)
        try await workers.stop()
        #expect(done.metrics?["ok"] == true)
        // The damaged record stays where listings report it; its ready entry is gone.
        #expect(try await h.queue.jobs().skipped.count == 1)
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)
    }

    /// As PostgreSQL's job table does for a job it sets aside (see the README).
    @Test(arguments: Backends.keyValueJobFixtures())
    func aCorruptJobRecordFreesItsUniqueKey(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let damaged = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
        try await h.store.put(namespace: MLNamespace.jobs, key: MLKey.job(damaged), value: "{not json")
        let (job, isDuplicate) = try await h.queue.submitJobOrFindDuplicate(
            MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
        #expect(!isDuplicate && job.id != damaged)
        #expect(try await h.queue.submitJobOrFindDuplicate(MLJobSubmission(kind: .train, target: "m", uniqueKey: "train-m"))
            == (job, true))
        // The damaged record stays where listings report it.
        #expect(try await h.store.get(namespace: MLNamespace.jobs, key: MLKey.job(damaged)) == "{not json")
        #expect(try await h.queue.jobs().skipped.count == 1)
    }

    @Test(arguments: Backends.keyValueJobFixtures())
    func aJobRecordUnderAnotherJobsKeyIsReportedNotTakenForThatJob(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let original = try await h.queue.submit(MLJobSubmission(kind: .train, target: "original"))
        let overwritten = try await h.queue.submit(MLJobSubmission(kind: .train, target: "overwritten"))
        // A hand edit copies one job's record over another's.
        let copied = try #require(try await h.store.get(namespace: MLNamespace.jobs, key: MLKey.job(original)))
        try await h.store.put(namespace: MLNamespace.jobs, key: MLKey.job(overwritten), value: copied)
        let page = try await h.queue.jobs()
        #expect(page.jobs.map(\.id) == [original])
        #expect(page.skipped.count == 1 && "\(page.skipped)".contains("jobs/\(MLKey.job(overwritten))"), "\(page.skipped)")
        for read in [{ try await h.queue.job(overwritten) as Any }, { try await h.queue.cancel(overwritten) as Any }] {
            await #expect { try await read() } throws: { error in
                guard let error = error as? MLPersistenceError, case .corruption(let message) = error else { return false }
                return message.contains(MLKey.job(overwritten)) && message.contains("record describes job \(MLKey.job(original))")
            }
        }
        // The original runs once; the damaged record's ready entry is dropped, the record kept for listings.
        let workers = h.start { workers in workers.register(.train) { _ in ["ok": true] } }
        _ = try await waitForStatus(h.queue, original, .completed)
        try await workers.stop()
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)
        #expect(try await h.store.get(namespace: MLNamespace.jobs, key: MLKey.job(overwritten)) == copied)
    }

    @Test(arguments: Backends.keyValueJobFixtures())
    func aJobRecordBehindItsHistoryDoesNotStallTheQueue(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let damaged = try await h.queue.submit(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
        let good = try await h.queue.submit(MLJobSubmission(kind: .train, target: "good"))
        // A hand edit sets the damaged job's event count below its history: its next event's key is taken.
        let key = MLKey.job(damaged)
        let stored = try #require(try await h.store.get(namespace: MLNamespace.jobs, key: key))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any])
        object["event_count"] = 0
        let edited = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try await h.store.put(namespace: MLNamespace.jobs, key: key, value: edited)
        // Reported naming the record, not retried a thousand times as if other writers kept winning.
        await #expect { try await h.queue.cancel(damaged) } throws: { error in
            guard let error = error as? MLPersistenceError, case .corruption(let message) = error else { return false }
            return message.contains("jobs/\(key)") && message.contains("job_history/\(key)/00000001")
        }
        let workers = h.start { workers in workers.register(.train) { _ in ["ok": true] } }
        _ = try await waitForStatus(h.queue, good, .completed)
        try await workers.stop()
        // The damaged job stays as it was, out of the ready index, for an operator to repair.
        #expect(try await h.store.get(namespace: MLNamespace.jobs, key: key) == edited)
        #expect(try await h.queue.history(of: damaged).map(\.reason) == ["submitted"])
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)
    }

    /// As a claim does for a queued one: the rescue of expired leases used to
    /// conflict on such a running job's next event every pass, in silence, and
    /// leave it running for ever.
    @Test(arguments: Backends.keyValueJobFixtures())
    func aRunningJobBehindItsHistoryIsReportedByTheRescueAndNotRetried(_ fixture: MLStoreFixture) async throws {
        let (store, queue, clock, logs) = try await Self.loggedQueue(fixture)
        let h = Harness(store: store, clock: clock)
        let id = try await queue.submit(MLJobSubmission(kind: .train, target: "damaged"))
        #expect(try await queue.claim(queue: "default", worker: "dying", leaseMs: 1_000, limit: 1).count == 1)
        // A hand edit sets the running job's event count below its history (submitted, claimed).
        let key = MLKey.job(id)
        let stored = try #require(try await store.get(namespace: MLNamespace.jobs, key: key))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any])
        object["event_count"] = 1
        let edited = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try await store.put(namespace: MLNamespace.jobs, key: key, value: edited)
        clock.advance(by: .seconds(2))  // the worker died

        #expect(try await queue.rescueExpiredLeases() == 0)
        let reported = logs.all.filter { $0.level == .error && $0.metadata["job_id"] == key }
        #expect(reported.count == 1, "\(logs.all.map(\.message))")
        let error = reported.first?.metadata["error"] ?? ""
        #expect(error.contains("jobs/\(key)") && error.contains("job_history/\(key)/00000002"), "\(error)")
        // Not retried every pass: its lease entry is gone. The record stays, running, for an operator.
        #expect(try await h.entries(MLNamespace.jobLeases).isEmpty)
        #expect(try await queue.rescueExpiredLeases() == 0)
        #expect(logs.all.filter { $0.level == .error }.count == 1)
        #expect(try await store.get(namespace: MLNamespace.jobs, key: key) == edited)
    }

    /// The same damage on every backend, PostgreSQL's job table included, where
    /// the rescue used to conflict on the job's next event every pass, in
    /// silence: reported once, naming the job and the event, while the
    /// rescue of the other jobs goes on. The key-value layout drops the job's
    /// lease entry (above); the job table sets the job aside, as its claim does.
    @Test(arguments: Backends.allFixtures())
    func aRunningJobBehindItsHistoryIsReportedOnceAndHoldsUpNoOtherRescue(_ fixture: MLStoreFixture) async throws {
        let (store, queue, clock, logs) = try await Self.loggedQueue(fixture)
        let damaged = try await queue.submit(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
        let other = try await queue.submit(MLJobSubmission(kind: .train, target: "other"))
        #expect(try await queue.claim(queue: "default", worker: "dying", leaseMs: 1_000, limit: 2).count == 2)
        // A hand edit sets the running job's event count below its history (submitted, claimed):
        // the event the rescue would add, the second, is already there.
        var edited = try #require(try await queue.job(damaged))
        edited.eventCount = 1
        try await JobDamage.replaceRecord(of: damaged, in: store, with: edited.storedJSON)
        clock.advance(by: .seconds(2))  // the worker died

        #expect(try await queue.rescueExpiredLeases() == 1)
        #expect(try await queue.job(other)?.status == .queued, "the other job is rescued in the same pass")
        let key = MLKey.job(damaged)
        let reported = logs.all.filter { $0.level == .error && $0.metadata["job_id"] == key }
        #expect(reported.count == 1, "\(logs.all.map { "\($0.level) \($0.message) \($0.metadata)" })")
        let error = reported.first?.metadata["error"] ?? ""
        #expect(error.contains("jobs/\(key)") && error.contains("job_history/\(key)/00000002"), "\(error)")
        // Not met again on later passes; the record stays as it was, running, for an operator to repair.
        clock.advance(by: .seconds(2))
        #expect(try await queue.rescueExpiredLeases() == 0)
        #expect(logs.all.filter { $0.level == .error }.count == 1, "\(logs.all.map(\.message))")
        #expect(try await JobDamage.storedRecord(of: damaged, in: store) == edited.storedJSON)
        // Read, it is named as damaged rather than shown running, a state it would never leave;
        // its history, which an operator compares with it, still reads.
        let read = await #expect(throws: MLPersistenceError.self) { _ = try await queue.job(damaged) }
        #expect("\(String(describing: read))".contains("job_history/\(key)/00000002"), "\(String(describing: read))")
        let required = await #expect(throws: MLJobError.self) { _ = try await queue.requireJob(damaged) }
        #expect(required?.code == .jobCorrupt)
        #expect(try await queue.history(of: damaged).map(\.reason) == ["submitted", "claimed"])
    }

    /// As the registry's history does: one damaged event used to fail the whole history.
    @Test(arguments: Backends.keyValueJobFixtures())
    func aCorruptHistoryEventIsSkippedAndNamed(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        _ = try await h.queue.cancel(id)
        let damaged = "\(MLKey.job(id))/00000001"
        try await h.store.put(namespace: MLNamespace.jobHistory, key: damaged, value: "{oops")
        #expect(try await h.queue.history(of: id).map(\.reason) == ["cancelled"])
        let report = try await h.queue.historyReport(of: id)
        #expect(report.events.map(\.reason) == ["cancelled"])
        #expect(report.skipped.count == 1 && "\(report.skipped)".contains("job_history/\(damaged)"), "\(report.skipped)")
    }

    @Test(arguments: Backends.allFixtures())
    func aHandlerSlowToStopKeepsItsLeaseUntilItReturns(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let stopping = Gate()
        let finish = Gate()
        let workers = h.start(workerConfiguration(heartbeat: .seconds(1))) { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()  // the timeout cancels it…
                stopping.open()
                // …but it takes a while to stop (it ignores cancellation until the test lets it go).
                await finish.waitIgnoringCancellation()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "slow", maxAttempts: 2,
                                                          timeout: .seconds(1)))
        await started.wait()
        try await advance(h.clock, by: .seconds(1), until: "the timeout to stop the handler") { stopping.isOpen }
        // Well past the lease (2 s) while the handler is still stopping: the lease is renewed,
        // so nothing rescues the job and no second attempt starts.
        try await Self.expectLeaseKeptAhead(h, id, steps: 10)
        #expect(try await h.queue.requireJob(id).attempt == 1)
        finish.open()
        let retrying = try await waitForJob(h.queue, id, "the timeout recorded") { $0.failures == 1 }
        try await workers.stop()
        #expect(retrying.error == "timed out after 1000 ms")
        #expect(try await h.queue.history(of: id).map(\.reason).contains("lease_expired") == false)
    }

    /// Moves the clock on `steps` times by `step`; after each move, waits (in real time, up to a
    /// deadline) until the job's lease was renewed to more than `ahead` past the clock, then checks
    /// that a rescue finds nothing. With 1 s heartbeats a renewal is due every second and moves the
    /// lease to 2 s ahead, so a kept lease is never within 900 ms of running out; a lease nobody
    /// renews is within it after two steps, and the wait fails.
    static func expectLeaseKeptAhead(
        _ h: Harness, _ id: UInt128, steps: Int, step: Duration = .milliseconds(500), ahead: Int64 = 900,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for index in 1...steps {
            try await advance(h.clock, by: step, until: "the lease to be renewed ahead of the clock (step \(index))",
                              sourceLocation: sourceLocation) {
                let lease = try await h.queue.requireJob(id).leaseExpiresAtMs ?? .min
                return lease > h.clock.nowMs + ahead
            }
            #expect(try await h.queue.rescueExpiredLeases() == 0, "step \(index)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func aHandlerStillRunningAfterTheShutdownGraceKeepsItsLease(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let interrupted = Gate()
        let finish = Gate()
        let workers = h.start(workerConfiguration(gracePeriod: .seconds(1), heartbeat: .seconds(1))) { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()  // the end of the grace period interrupts it…
                interrupted.open()
                await finish.waitIgnoringCancellation()  // …but it takes a while to stop
                throw CancellationError()
            }
        }
        defer { finish.open() }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "slow"))
        await started.wait()
        workers.workers.beginShutdown()
        try await advance(h.clock, by: .milliseconds(500), until: "the grace period to interrupt the handler") { interrupted.isOpen }
        // Well past the grace period, the give-up point for outcomes (5 s more) and the lease (2 s):
        // the handler has not returned, so its lease is still renewed and nobody else runs the job.
        try await Self.expectLeaseKeptAhead(h, id, steps: 20)
        #expect(try await h.queue.requireJob(id).status == .running)
        finish.open()
        try await workers.stop()
        let job = try await h.queue.requireJob(id)
        #expect(job.status == .queued && job.attempt == 1 && job.failures == 0, "interrupted, back in the queue: \(job)")
    }

    /// A queue on a new store of `fixture`, on a manual clock, whose logs are captured.
    private static func loggedQueue(
        _ fixture: MLStoreFixture
    ) async throws -> (store: any MLStore, queue: MLJobQueue, clock: MLManualClock, logs: CapturedLogs) {
        let store = try await fixture.makeStore()
        let logs = CapturedLogs()
        let clock = MLManualClock(nowMs: startMs)
        var configuration = MLJobQueue.Configuration()
        configuration.clock = clock
        configuration.logger = logs.logger
        return (store, MLJobQueue(store: store, configuration: configuration), clock, logs)
    }
}
