import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Shutdown, checkpoints, cancellation across processes, and fencing of zombie workers.
@Suite("Lifecycle")
struct LifecycleTests {
    @Test(arguments: Backends.allFixtures())
    func shutdownInterruptsARunningJobWithoutUsingAnAttempt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start(workerConfiguration(gracePeriod: .seconds(2))) { workers in
            workers.register(.train) { job in
                try await job.checkpoint(["step": 3], progress: 30)
                started.open()
                await waitUntilCancelled()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 1))
        await started.wait()
        workers.workers.beginShutdown()
        // Within the grace period the job keeps running.
        h.clock.advance(by: .milliseconds(1_900))
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await h.queue.requireJob(id).status == .running)
        #expect(!workers.hasFinished)
        try await advance(h.clock, by: .milliseconds(100), until: "the job to be interrupted") {
            try await h.queue.requireJob(id).status == .queued
        }
        try await workers.stop()

        let interrupted = try await h.queue.requireJob(id)
        #expect(interrupted.failures == 0)
        #expect(interrupted.attempt == 1)
        #expect(interrupted.error == nil)
        #expect(interrupted.worker == nil)
        #expect(interrupted.checkpoint == ["step": 3])
        #expect(interrupted.progress == 30)
        #expect(interrupted.finishedAtMs == nil)
        #expect(try await h.queue.history(of: id).last?.reason == "interrupted")
        #expect(try await h.entries(MLNamespace.jobReady).count == 1)

        // Next time, with maxAttempts 1 it still runs (the interruption used no attempt) and resumes from the checkpoint.
        let resumedFrom = Locked<(MLJSONObject?, Double, Int)?>(nil)
        let again = h.start { workers in
            workers.register(.train) { job in
                let seen = (job.checkpoint, job.job.progress, job.attempt)
                resumedFrom.withLock { $0 = seen }
                return ["resumed": true]
            }
        }
        let done = try await waitForStatus(h.queue, id, .completed)
        try await again.stop()
        #expect(resumedFrom.value?.0 == ["step": 3])
        #expect(resumedFrom.value?.1 == 30)
        #expect(resumedFrom.value?.2 == 2)
        #expect(done.failures == 0)
    }

    @Test(arguments: Backends.allFixtures())
    func aHandlerThatFinishesWithinTheGracePeriodCompletes(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let finish = Gate()
        let workers = h.start(workerConfiguration(gracePeriod: .seconds(10))) { workers in
            workers.register(.train) { _ in
                started.open()
                await finish.wait()
                return ["done": true]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        let waiting = try await h.queue.submit(MLJobSubmission(kind: .train, target: "waiting"))
        await started.wait()
        workers.workers.beginShutdown()
        h.clock.advance(by: .seconds(1))
        finish.open()
        try await workers.stop()
        #expect(try await h.queue.requireJob(id).status == .completed)
        // Queued jobs stay queued in the store.
        let left = try await h.queue.requireJob(waiting)
        #expect(left.status == .queued)
        #expect(left.attempt == 0)
    }

    @Test(arguments: Backends.allFixtures())
    func aCheckpointSurvivesAFailedAttempt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let seen = Locked<[(Int, MLJSONObject?, Double)]>([])
        let workers = h.start { workers in
            workers.register(.train) { job in
                let entry = (job.attempt, job.checkpoint, job.job.progress)
                seen.withLock { $0.append(entry) }
                var epoch = job.checkpoint?["epoch"]?.intValue ?? 0
                while epoch < 5 {
                    epoch += 1
                    try await job.checkpoint(["epoch": .int(epoch)], progress: Double(epoch) * 20)
                    if job.attempt == 1 && epoch == 2 { throw MLJobFailure("out of memory") }
                }
                return ["epochs": .int(epoch)]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 2))
        let failedOnce = try await waitForJob(h.queue, id, "the first failure") { $0.failures == 1 }
        #expect(failedOnce.checkpoint == ["epoch": 2])
        #expect(failedOnce.progress == 40)
        h.clock.advance(by: .seconds(1))
        _ = try await h.queue.promoteScheduledJobs()
        let done = try await waitForStatus(h.queue, id, .completed, nudging: h.clock)
        try await workers.stop()
        let attempts = seen.value
        #expect(attempts.count == 2)
        #expect(attempts.first?.0 == 1)
        #expect(attempts.first?.1 == nil)
        #expect(attempts.first?.2 == 0)
        #expect(attempts.last?.0 == 2)
        #expect(attempts.last?.1 == ["epoch": 2])
        #expect(attempts.last?.2 == 40)
        #expect(done.metrics == ["epochs": 5])
        #expect(done.checkpoint == ["epoch": 5])
    }

    @Test(arguments: Backends.allFixtures())
    func aZombieWorkerIsFencedOut(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        // Worker A's clock never moves: it stops renewing, like a stalled process.
        let frozen = MLManualClock(nowMs: startMs)
        let queueA = h.reopened(clock: frozen)
        let aStarted = Gate()
        let aResume = Gate()
        let aError = Locked<MLJobError?>(nil)
        let workersA = RunningWorkers.start(queue: queueA, configuration: workerConfiguration(id: "worker-a", heartbeat: .seconds(1)), clock: frozen) { workers in
            workers.register(.train) { job in
                try await job.checkpoint(["by": "a", "step": 1])
                aStarted.open()
                await aResume.wait()
                do {
                    try await job.checkpoint(["by": "a", "step": 2], progress: 90)
                } catch let error as MLJobError {
                    aError.withLock { $0 = error }
                }
                return ["by": "a"]  // too late: this result must be dropped
            }
        }
        let id = try await queueA.submit(MLJobSubmission(kind: .train, target: "m"))
        await aStarted.wait()

        // The lease runs out on B's clock; B rescues the job and claims it as attempt 2.
        h.clock.advance(by: .seconds(2))
        try await rescue(h.queue, expecting: 1)
        let bStarted = Gate()
        let bFinish = Gate()
        let bCheckpoint = Locked<MLJSONObject?>(nil)
        let workersB = h.start(workerConfiguration(id: "worker-b", heartbeat: .seconds(1))) { workers in
            workers.register(.train) { job in
                let checkpoint = job.checkpoint
                bCheckpoint.withLock { $0 = checkpoint }
                bStarted.open()
                await bFinish.wait()
                return ["by": "b"]
            }
        }
        await bStarted.wait()
        let held = try await h.queue.requireJob(id)
        #expect(held.attempt == 2)
        #expect(held.worker == "worker-b")
        #expect(bCheckpoint.value == ["by": "a", "step": 1])

        // The zombie wakes up: its checkpoint is refused and its completion dropped.
        aResume.open()
        try await workersA.stop()
        #expect(aError.value?.code == .leaseLost)
        #expect(aError.value?.jobID == id)
        let afterZombie = try await h.queue.requireJob(id)
        #expect(afterZombie.status == .running)
        #expect(afterZombie.attempt == 2)
        #expect(afterZombie.worker == "worker-b")
        #expect(afterZombie.checkpoint == ["by": "a", "step": 1])
        #expect(afterZombie.metrics == nil)

        bFinish.open()
        let done = try await waitForStatus(h.queue, id, .completed)
        try await workersB.stop()
        #expect(done.metrics == ["by": "b"])
        #expect(done.attempt == 2)
        #expect(done.failures == 0)
        let history = try await h.queue.history(of: id)
        #expect(history.map(\.reason) == ["submitted", "claimed", "lease_expired", "claimed", "completed"])
        #expect(history.filter { $0.reason == "completed" }.map(\.worker) == ["worker-b"])
    }

    @Test(arguments: Backends.allFixtures())
    func aZombieThatOnlyReturnsCannotOverwriteTheNewHolder(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let frozen = MLManualClock(nowMs: startMs)
        let queueA = h.reopened(clock: frozen)
        let aStarted = Gate()
        let aResume = Gate()
        let workersA = RunningWorkers.start(queue: queueA, configuration: workerConfiguration(id: "worker-a", heartbeat: .seconds(1)), clock: frozen) { workers in
            workers.register(.train) { _ in
                aStarted.open()
                await aResume.wait()
                throw MLJobFailure("a failed late", retryable: false)
            }
        }
        let id = try await queueA.submit(MLJobSubmission(kind: .train, target: "m"))
        await aStarted.wait()
        h.clock.advance(by: .seconds(2))
        try await rescue(h.queue, expecting: 1)
        let workersB = h.start(workerConfiguration(id: "worker-b", heartbeat: .seconds(1))) { workers in
            workers.register(.train) { _ in ["by": "b"] }
        }
        let done = try await waitForStatus(h.queue, id, .completed)
        try await workersB.stop()
        aResume.open()
        try await workersA.stop()
        let final = try await h.queue.requireJob(id)
        #expect(final == done)
        #expect(final.failures == 0)
        #expect(final.error == nil)
        #expect(final.metrics == ["by": "b"])
    }

    @Test(arguments: Backends.allFixtures())
    func aCancelFromAnotherProcessReachesTheHandlerAtTheNextHeartbeat(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { job in
                started.open()
                await waitUntilCancelled()
                if job.isCancelled { throw CancellationError() }
                return ["ignored": true]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        let operator_ = h.reopened()
        #expect(try await operator_.cancel(id) == .requested)
        #expect(try await h.queue.requireJob(id).cancelRequested)
        try await advance(h.clock, by: .seconds(10), until: "the job to be cancelled") {
            try await h.queue.requireJob(id).status == .cancelled
        }
        try await workers.stop()
        #expect(try await h.queue.requireJob(id).failures == 0)
    }

    /// A handler that fails before the run has seen a cancel stored by
    /// another process (the clock stands still, so no heartbeat reads it): the failure's write
    /// conflicts with the cancel, and the job must end cancelled, not be retried.
    @Test(arguments: Backends.allFixtures())
    func aFailureAfterAnUnseenCancelEndsCancelledNotRetried(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let cancelSent = Gate()
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                await cancelSent.wait()
                throw MLJobFailure("the data went away", retryable: true)
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 5))
        await started.wait()
        // From another queue over the same store, as from another process: the run is not told.
        #expect(try await h.reopened().cancel(id) == .requested)
        cancelSent.open()
        let final = try await waitForJob(h.queue, id, "the attempt to end") { $0.status != .running }
        try await workers.stop()
        #expect(final.status == .cancelled, "a cancelled job was \(final.status) after a retryable failure")
        #expect(final.failures == 1)
        #expect(final.error == "the data went away")
        #expect(try await h.queue.history(of: id).last?.to == .cancelled)
    }

    /// Shutdown interrupts a job whose cancel, stored by another process, the
    /// run has not seen yet: it ends cancelled rather than going back to the queue.
    @Test(arguments: Backends.allFixtures())
    func anInterruptionAfterAnUnseenCancelEndsCancelled(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start(workerConfiguration(gracePeriod: .zero)) { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        #expect(try await h.reopened().cancel(id) == .requested)
        try await workers.stop()
        let final = try await h.queue.requireJob(id)
        #expect(final.status == .cancelled, "a cancelled job was \(final.status) after the shutdown")
        #expect(final.failures == 0)
        #expect(try await h.entries(MLNamespace.jobReady).isEmpty)
    }

    /// A database crash can roll back a claim (PostgreSQL commits claims
    /// without waiting for the disk). The same process may then claim the job
    /// again, with the same attempt number and worker id, which the first
    /// run's fencing check cannot tell from its own claim. The later claim
    /// supersedes the first run: it loses its lease and its result is dropped.
    /// (It rolls the claim back in the key-value records; a job table's rows
    /// go through the same `JobRun.supersede` path.)
    @Test(arguments: Backends.keyValueJobFixtures())
    func aClaimMadeAgainAfterACrashRolledItBackSupersedesTheFirstRun(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        // What a crash that lost the claim would leave: the store as it is before the claim.
        let record = try #require(try await h.store.entry(namespace: MLNamespace.jobs, key: MLKey.job(id)))
        let ready = try await h.entries(MLNamespace.jobReady)
        let historyBefore = Set(try await h.entries(MLNamespace.jobHistory).map(\.key))
        #expect(ready.count == 1)
        let runs = Locked(0)
        let firstStarted = Gate(), firstStopped = Gate(), secondStarted = Gate(), release = Gate()
        let workers = h.start(workerConfiguration(count: 2)) { workers in
            workers.register(.train) { _ in
                let run = runs.withLock { $0 += 1; return $0 }
                if run == 1 {
                    firstStarted.open()
                    await waitUntilCancelled()
                    firstStopped.open()
                    return ["run": 1]
                }
                secondStarted.open()
                await release.wait()
                return ["run": 2]
            }
        }
        await firstStarted.wait()
        var rollback = MLBatch()
        rollback.put(namespace: MLNamespace.jobs, key: record.key, value: record.value)
        for entry in ready { rollback.put(namespace: MLNamespace.jobReady, key: entry.key, value: entry.value) }
        for entry in try await h.entries(MLNamespace.jobLeases) {
            rollback.delete(namespace: MLNamespace.jobLeases, key: entry.key)
        }
        for entry in try await h.entries(MLNamespace.jobHistory) where !historyBefore.contains(entry.key) {
            rollback.delete(namespace: MLNamespace.jobHistory, key: entry.key)
        }
        try await h.store.commit(rollback)

        // The idle slot's claim loop polls (250 ms) and claims the job again: attempt 1, worker-1.
        try await advance(h.clock, by: .milliseconds(300), until: "the job to be claimed again") { secondStarted.isOpen }
        try await eventually("the first run to be stopped", timeout: .seconds(10)) { firstStopped.isOpen }
        release.open()
        let final = try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
        #expect(final.attempt == 1)
        #expect(final.metrics == ["run": 2], "the superseded run's result was recorded")
        #expect(runs.value == 2)
        #expect(try await h.queue.history(of: id).map(\.reason) == ["submitted", "claimed", "completed"])
    }

    /// The pattern documented on `MLJobHandle`: when `checkpoint` reports a
    /// cancel, break out and return. `cancel(_:)` promises the job "ends
    /// `cancelled` when the handler stops".
    @Test(arguments: Backends.allFixtures())
    func aHandlerThatStopsAtACancelledCheckpointEndsCancelled(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let cancelSent = Gate()
        let sawCancel = Locked(false)
        let workers = h.start { workers in
            workers.register(.train) { job in
                var epoch = 0
                while epoch < 10 {
                    epoch += 1
                    if epoch == 2 {
                        started.open()
                        await cancelSent.wait()
                    }
                    if try await job.checkpoint(["epoch": .int(Int64(epoch))], progress: Double(epoch) * 10) {
                        sawCancel.withLock { $0 = true }
                        break
                    }
                }
                return ["epochs": .int(Int64(epoch))]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        #expect(try await h.queue.cancel(id) == .requested)
        cancelSent.open()
        let final = try await waitForJob(h.queue, id, "a terminal status") { $0.status.isTerminal }
        try await workers.stop()
        #expect(sawCancel.value)
        #expect(final.status == .cancelled, "the handler stopped because of the cancel, yet the job is \(final.status)")
    }

    /// Cancelling the task that runs `run()` (not a graceful shutdown) must not
    /// lose the job nor count the interruption as a failed attempt.
    @Test(arguments: Backends.allFixtures())
    func cancellingTheWorkersTaskDoesNotUseAnAttempt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                await waitUntilCancelled()
                throw CancellationError()
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 1))
        await started.wait()
        workers.task.cancel()
        _ = try? await workers.task.value
        // Whatever was written, a rescue after the lease expires must leave it queued and unfailed.
        h.clock.advance(by: .seconds(2))
        _ = try await h.queue.rescueExpiredLeases()
        let after = try await h.queue.requireJob(id)
        #expect(after.status == .queued, "after cancelling run(), the job is \(after.status): \(after.error ?? "-")")
        #expect(after.failures == 0)
    }
}

/// Races between a run's own writes, forced with a store that holds one commit.
@Suite("Write races")
struct WriteRaceTests {
    /// The watch's lease renewal captures the progress before writing; when a
    /// checkpoint of the same run commits in between, the renewal conflicts,
    /// re-reads the record, and must not put the older progress back.
    @Test(arguments: Backends.allFixtures())
    func aLeaseRenewalDoesNotOverwriteANewerCheckpointsProgress(_ fixture: MLStoreFixture) async throws {
        let counting = CountingStore(try await fixture.makeStore())
        let h = Harness(store: counting)
        let started = Gate()
        let go = Gate()
        let checkpointed = Gate()
        let finish = Gate()
        let hold = counting.holdNextSilentJobWrite()  // the first write without an event: the renewal
        let workers = h.start { workers in
            workers.register(.train) { job in
                job.setProgress(10)
                started.open()
                await go.wait()
                try await job.checkpoint(["step": 1], progress: 50)
                checkpointed.open()
                await finish.wait()
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        try await advance(h.clock, by: .milliseconds(200), until: "the progress flush to reach the store") {
            hold.arrived.isOpen
        }
        go.open()
        await checkpointed.wait()
        let checkpointedJob = try await h.queue.requireJob(id)
        #expect(checkpointedJob.progress == 50)
        #expect(checkpointedJob.checkpoint == ["step": 1])
        let writesBefore = counting.writes(of: id)
        hold.release.open()
        await hold.returned.wait()
        try await eventually("the renewal to be retried and written") { counting.writes(of: id) > writesBefore }
        let after = try await h.queue.requireJob(id)
        #expect(after.checkpoint == ["step": 1])
        #expect(after.progress == 50, "a renewal that began before the checkpoint wrote its older progress over it")
        finish.open()
        try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
    }
}

/// A slot is free again when its handler returns, while the outcome is still
/// being written; as many writes as there are slots may wait so, no more.
@Suite("Slots and outcome writes")
struct OutcomeWriteTests {
    @Test(arguments: Backends.allFixtures())
    func aSlotRunsTheNextJobWhileTheLastOutcomeIsWritten(_ fixture: MLStoreFixture) async throws {
        let counting = CountingStore(try await fixture.makeStore())
        let h = Harness(store: counting)
        let hold = counting.holdCompletions()
        let started = Locked<[String]>([])
        let workers = h.start(workerConfiguration(count: 1)) { workers in
            workers.register(.train) { job in
                started.withLock { $0.append(job.job.target) }
                return [:]
            }
        }
        let jobs = try await h.queue.submitJobs(["a", "b", "c"].map { MLJobSubmission(kind: .train, target: $0) })
        // a's completion is held; the one slot runs b meanwhile.
        try await eventually("b to start while a's outcome is being written") { started.value.contains("b") }
        #expect(try await h.queue.requireJob(jobs[0].id).status == .running, "a's outcome is not written yet")
        // Now two outcomes wait, one more than the slots: c must wait for one of them.
        try await eventually("b's outcome to reach the store") { hold.arrivals.value == 2 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(started.value == ["a", "b"], "c started while two outcomes were pending")
        hold.release.open()
        for job in jobs { try await waitForStatus(h.queue, job.id, .completed) }
        #expect(started.value == ["a", "b", "c"])
        try await workers.stop()
    }
}

/// A claim loop claims when jobs may have arrived, not whenever a slot frees up.
@Suite("Claims and free slots")
struct FreeSlotClaimTests {
    @Test(arguments: Backends.allFixtures())
    func aFreedSlotClaimsOnlyWhenJobsArrived(_ fixture: MLStoreFixture) async throws {
        let counting = CountingStore(try await fixture.makeStore())
        let h = Harness(store: counting)
        let started = Locked<[String]>([])
        let finish = Gate()
        let workers = h.start(workerConfiguration(count: 2)) { workers in
            workers.register(.train) { job in
                started.withLock { $0.append(job.job.target) }
                if job.job.target == "a" { await finish.wait() }
                return [:]
            }
        }
        let a = try await h.queue.submit(MLJobSubmission(kind: .train, target: "a"))
        try await eventually("a to start") { started.value == ["a"] }
        // The claim that took a found nothing more; a's slot freeing up is no news of jobs.
        let claimsBefore = counting.readyPageCount
        finish.open()
        try await waitForStatus(h.queue, a, .completed)
        try await Task.sleep(for: .milliseconds(200))
        #expect(counting.readyPageCount == claimsBefore, "a freed slot claimed though no job had arrived")
        // A submission is news: it is claimed at once.
        let b = try await h.queue.submit(MLJobSubmission(kind: .train, target: "b"))
        try await waitForStatus(h.queue, b, .completed)
        // And with no news at all, the loop still looks once per poll interval (250 ms here).
        let claimsAfterB = counting.readyPageCount
        try await advance(h.clock, by: .milliseconds(250), until: "the poll to claim") {
            counting.readyPageCount > claimsAfterB
        }
        try await workers.stop()
    }

    /// A handler registered while the pool runs is news: its kind's ready jobs are claimed at
    /// once, not at the next poll (which the test clock never reaches).
    @Test(arguments: Backends.allFixtures())
    func registeringAHandlerClaimsItsReadyJobs(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let ran = Locked<[String]>([])
        let workers = h.start(workerConfiguration(count: 2)) { workers in
            workers.register(.train) { job in
                ran.withLock { $0.append(job.job.target) }
                return [:]
            }
        }
        let warm = try await h.queue.submit(MLJobSubmission(kind: .train, target: "warm"))
        try await waitForStatus(h.queue, warm, .completed)
        let embed = try await h.queue.submit(MLJobSubmission(kind: "embed_images", target: "photos"))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await h.queue.requireJob(embed).status == .queued, "no handler yet")
        workers.workers.register("embed_images") { job in
            ran.withLock { $0.append(job.job.target) }
            return [:]
        }
        try await waitForStatus(h.queue, embed, .completed)
        #expect(ran.value == ["warm", "photos"])
        try await workers.stop()
    }
}

