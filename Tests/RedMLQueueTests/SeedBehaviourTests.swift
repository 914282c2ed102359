import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// The seed behaviours of issue #4, on every backend.
@Suite("Seed behaviours")
struct SeedBehaviourTests {
    @Test(arguments: Backends.allFixtures())
    func submitRunsAndCompletesWithMetrics(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let seen = Locked<MLJSONObject?>(nil)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", spec: ["epochs": 3]))
        let queued = try await h.queue.requireJob(id)
        #expect(queued.status == .queued)
        #expect(queued.attempt == 0)
        #expect(queued.createdAtMs == startMs)

        let workers = h.start { workers in
            workers.register(.train) { job in
                let spec = job.spec
                seen.withLock { $0 = spec }
                job.setProgress(50)
                return ["accuracy": 0.9, "loss": 0.25, "target": .string(job.job.target)]
            }
        }
        let done = try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()

        #expect(seen.value == ["epochs": 3])
        #expect(done.metrics == ["accuracy": 0.9, "loss": 0.25, "target": "spam"])
        #expect(done.progress == 100)
        #expect(done.attempt == 1)
        #expect(done.failures == 0)
        #expect(done.error == nil)
        #expect(done.worker == nil)
        #expect(done.leaseExpiresAtMs == nil)
        #expect(done.startedAtMs == startMs)
        #expect(done.finishedAtMs == startMs)
        #expect(done.duration == .zero)
    }

    @Test(arguments: Backends.allFixtures())
    func failureIsRetriedWithBackoffThenRecorded(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let workers = h.start { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                throw MLJobFailure("diverged at attempt \(job.attempt)")
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 3))

        // Attempt 1 fails: back to queued, due one backoff (1 s) later.
        let first = try await waitForJob(h.queue, id, "first failure") { $0.failures == 1 }
        #expect(first.status == .queued)
        #expect(first.error == "diverged at attempt 1")
        #expect(first.runAtMs == h.clock.nowMs + 1_000)
        #expect(first.finishedAtMs == nil)
        // Not before its time: nothing is promoted and nothing runs.
        #expect(try await h.queue.promoteScheduledJobs() == 0)
        h.clock.advance(by: .milliseconds(999))
        #expect(try await h.queue.promoteScheduledJobs() == 0)
        try await Task.sleep(for: .milliseconds(30))
        #expect(calls.count(id) == 1)
        #expect(try await h.queue.requireJob(id).status == .queued)

        // Attempt 2 after the clock moves past the backoff; the next wait doubles.
        h.clock.advance(by: .milliseconds(1))
        _ = try await h.queue.promoteScheduledJobs()
        let second = try await waitForJob(h.queue, id, "second failure", nudging: h.clock) { $0.failures == 2 }
        #expect(second.status == .queued)
        #expect(second.attempt == 2)
        #expect(second.error == "diverged at attempt 2")
        #expect(second.runAtMs == second.updatedAtMs + 2_000, "the backoff doubled, from the failure's time")

        // Attempt 3 is the last: the job fails for good.
        h.clock.advance(by: .seconds(2))
        _ = try await h.queue.promoteScheduledJobs()
        let failed = try await waitForStatus(h.queue, id, .failed, nudging: h.clock)
        try await workers.stop()
        #expect(failed.failures == 3)
        #expect(failed.attempt == 3)
        #expect(failed.error == "diverged at attempt 3")
        #expect(failed.finishedAtMs == failed.updatedAtMs, "finished by the write that failed it")
        #expect(failed.finishedAtMs! >= startMs + 3_000)
        #expect(failed.metrics == nil)
        #expect(calls.count(id) == 3)
        let history = try await h.queue.history(of: id)
        #expect(history.map(\.reason) == ["submitted", "claimed", "failed", "claimed", "failed", "claimed", "failed"])
        #expect(history.map(\.to) == [.queued, .running, .queued, .running, .queued, .running, .failed])
    }

    @Test(arguments: Backends.allFixtures())
    func cancellingAQueuedJobPreventsItsExecution(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "never"))
        #expect(try await h.queue.cancel(id) == .cancelled)
        let cancelled = try await h.queue.requireJob(id)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.finishedAtMs == startMs)

        let workers = h.start { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                return [:]
            }
        }
        // A job submitted afterwards runs, so the workers were live and skipped the cancelled one.
        let other = try await h.queue.submit(MLJobSubmission(kind: .train, target: "later"))
        try await waitForStatus(h.queue, other, .completed)
        try await workers.stop()
        #expect(calls.count(id) == 0)
        #expect(calls.count(other) == 1)
        #expect(try await h.queue.requireJob(id).status == .cancelled)
        #expect(try await h.queue.history(of: id).map(\.reason) == ["submitted", "cancelled"])
    }

    @Test(arguments: Backends.allFixtures())
    func cancellingAFinishedOrUnknownJobIsANoOp(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let workers = h.start { workers in
            workers.register(.train) { _ in ["ok": true] }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        let done = try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
        let revision = try #require(try await h.revision(of: id))

        #expect(try await h.queue.cancel(id) == .notCancellable)
        #expect(try await h.queue.requireJob(id) == done)
        #expect(try await h.revision(of: id) == revision)

        let unknown = try await h.queue.submitJob(MLJobSubmission(kind: .train, target: "x")).id &+ 12345
        #expect(try await h.queue.cancel(unknown) == .notCancellable)
        #expect(try await h.queue.job(unknown) == nil)

        // A cancelled job cannot be cancelled again.
        let queued = try await h.queue.submit(MLJobSubmission(kind: .train, target: "y"))
        #expect(try await h.queue.cancel(queued) == .cancelled)
        #expect(try await h.queue.cancel(queued) == .notCancellable)
    }

    @Test(arguments: Backends.allFixtures())
    func runningHandlerObservesCooperativeCancellation(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let askedTwice = Gate()
        defer { askedTwice.open() }  // whatever happens, the handler is not left waiting
        let observed = Locked<(handle: Bool, task: Bool)?>(nil)
        let workers = h.start { workers in
            workers.register(.train) { job in
                started.open()
                await waitUntilCancelled()
                // Still running when the test asks a second time (else that would find it ended).
                await askedTwice.waitIgnoringCancellation()
                let seen = (job.isCancelled, Task.isCancelled)
                observed.withLock { $0 = seen }
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        #expect(try await h.queue.requireJob(id).status == .running)
        #expect(try await h.queue.cancel(id) == .requested)
        #expect(try await h.queue.cancel(id) == .requested)
        askedTwice.open()

        let cancelled = try await waitForStatus(h.queue, id, .cancelled)
        try await workers.stop()
        #expect(observed.value?.handle == true)
        #expect(observed.value?.task == true)
        #expect(cancelled.failures == 0)
        #expect(cancelled.cancelRequested)
        #expect(cancelled.finishedAtMs != nil)
        #expect(cancelled.worker == nil)
        #expect(try await h.queue.history(of: id).map(\.reason) == ["submitted", "claimed", "cancel_requested", "cancelled"])
        #expect(try await h.queue.cancel(id) == .notCancellable)
    }

    @Test(arguments: Backends.allFixtures())
    func submissionAndCompletionArePersisted(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let id = try await h.queue.submit(
            MLJobSubmission(kind: .backfill, target: "users.embedding", spec: ["batch": 64], priority: 7, maxAttempts: 2))
        let submitted = try await h.queue.requireJob(id)

        // Another queue over the same store sees the queued job exactly as submitted.
        let second = h.reopened()
        #expect(try await second.requireJob(id) == submitted)
        #expect(submitted.spec == ["batch": 64])
        #expect(submitted.priority == 7)
        #expect(submitted.maxAttempts == 2)

        // It runs from there, and a third queue sees the completion and its history.
        let workers = RunningWorkers.start(queue: second, configuration: workerConfiguration(), clock: h.clock) { workers in
            workers.register(.backfill) { _ in ["rows": 1_000] }
        }
        try await waitForStatus(second, id, .completed)
        try await workers.stop()
        let third = h.reopened()
        let done = try await third.requireJob(id)
        #expect(done.status == .completed)
        #expect(done.metrics == ["rows": 1_000])
        #expect(try await third.history(of: id).map(\.reason) == ["submitted", "claimed", "completed"])
        #expect(try await third.jobs(MLJobQuery(status: .completed)).jobs.map(\.id) == [id])
    }

    @Test(arguments: Backends.allFixtures())
    func expiredLeasesAreRequeuedAndFinishedJobsLeftAlone(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        // Process A: its clock never moves, so it never renews its lease (a stalled or dead worker).
        let frozen = MLManualClock(nowMs: startMs)
        let queueA = h.reopened(clock: frozen)
        let release = Gate()
        let attemptsSeen = Locked<[Int]>([])
        let workersA = RunningWorkers.start(queue: queueA, configuration: workerConfiguration(id: "worker-a", heartbeat: .seconds(1)), clock: frozen) { workers in
            workers.register(.train) { job in
                attemptsSeen.withLock { $0.append(job.attempt) }
                if job.job.target == "stuck" { await release.wait() }
                return ["by": "a"]
            }
        }
        let finished = try await queueA.submit(MLJobSubmission(kind: .train, target: "done"))
        let completed = try await waitForStatus(queueA, finished, .completed)
        let completedRevision = try await h.revision(of: finished)
        let stuck = try await queueA.submit(MLJobSubmission(kind: .train, target: "stuck"))
        let running = try await waitForStatus(queueA, stuck, .running)
        #expect(running.leaseExpiresAtMs == startMs + 2_000, "the lease lasts two heartbeats")

        // Process B: before the lease runs out, nothing is rescued.
        #expect(try await h.queue.rescueExpiredLeases() == 0)
        h.clock.advance(by: .milliseconds(1_999))
        #expect(try await h.queue.rescueExpiredLeases() == 0)
        h.clock.advance(by: .milliseconds(1))
        try await rescue(h.queue, expecting: 1)
        let requeued = try await h.queue.requireJob(stuck)
        #expect(requeued.status == .queued)
        #expect(requeued.attempt == 1)
        #expect(requeued.failures == 0)
        #expect(requeued.worker == nil)
        #expect(requeued.leaseExpiresAtMs == nil)
        #expect(try await h.queue.history(of: stuck).last?.reason == "lease_expired")
        #expect(try await h.queue.requireJob(finished) == completed)
        #expect(try await h.revision(of: finished) == completedRevision)
        #expect(try await h.queue.rescueExpiredLeases() == 0)

        // B's workers resume it as attempt 2.
        let workersB = h.start(workerConfiguration(id: "worker-b", heartbeat: .seconds(1))) { workers in
            workers.register(.train) { job in
                attemptsSeen.withLock { $0.append(job.attempt) }
                return ["by": "b"]
            }
        }
        let resumed = try await waitForStatus(h.queue, stuck, .completed)
        #expect(resumed.attempt == 2)
        #expect(resumed.failures == 0)
        #expect(resumed.metrics == ["by": "b"])
        try await workersB.stop()
        release.open()
        try await workersA.stop()
        #expect(attemptsSeen.value == [1, 1, 2])
        #expect(try await h.queue.requireJob(stuck).metrics == ["by": "b"])
    }

    @Test(arguments: Backends.allFixtures())
    func severalWorkersDrainABacklogExactlyOnce(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        var ids: [UInt128] = []
        for index in 0..<200 {
            ids.append(try await h.queue.submit(MLJobSubmission(kind: .featureRefresh, target: "f\(index)")))
        }
        let calls = Invocations()
        let meter = ConcurrencyMeter()
        let fourAtOnce = Gate()
        let workers = h.start(workerConfiguration(count: 4)) { workers in
            workers.register(.featureRefresh) { job in
                calls.record(job.id)
                meter.enter()
                defer { meter.leave() }
                if meter.current == 4 { fourAtOnce.open() }
                await fourAtOnce.wait()  // the first jobs wait until four run at once
                await Task.yield()
                return ["n": .int(Int64(job.attempt))]
            }
        }
        try await eventually("200 completed jobs", timeout: .seconds(90)) {
            try await h.queue.jobs(MLJobQuery(limit: 1_000, status: .completed)).jobs.count == 200
        }
        try await workers.stop()
        #expect(calls.total == 200)
        #expect(Set(calls.all.keys) == Set(ids))
        #expect(calls.all.values.allSatisfy { $0 == 1 })
        #expect(meter.maximum == 4)
        let all = try await h.queue.jobs(MLJobQuery(limit: 1_000)).jobs
        #expect(all.count == 200)
        #expect(all.allSatisfy { $0.status == .completed && $0.attempt == 1 && $0.failures == 0 })
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)
        #expect(try await h.entries(MLNamespace.jobLeases).isEmpty)
    }
}
