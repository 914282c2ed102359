import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// One ``LeaseKeeper`` per worker pool looks after every running job's lease.
@Suite("Lease keeper")
struct LeaseKeeperTests {
    @Test(arguments: Backends.allFixtures())
    func everyRunningJobKeepsItsLease(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Locked<Set<String>>([])
        let workers = h.start(workerConfiguration(count: 3)) { workers in
            workers.register(.train) { job in
                started.withLock { _ = $0.insert(job.job.target) }
                await waitUntilCancelled()
                return [:]
            }
        }
        // Started at different times, so their renewals fall due at different times.
        var ids: [UInt128] = []
        for target in ["a", "b", "c"] {
            ids.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: target)))
            try await eventually("job \(target) to start") { started.value.contains(target) }
            h.clock.advance(by: .seconds(4))
        }
        // Second by second to 25 s after the first claim, when a lease (20 s) not renewed would
        // have expired: each renewal is due 10 s after the last, so every lease should stay
        // about 10 s ahead of the clock. (A single jump past a lease would race the renewal
        // against the rescue of expired leases.)
        for second in 13...25 {
            try await advance(h.clock, by: .seconds(1), until: "every lease to stay ahead at \(second) s") {
                let now = h.clock.nowMs
                for id in ids {
                    guard let lease = try await h.queue.requireJob(id).leaseExpiresAtMs, lease > now + 9_000 else { return false }
                }
                return true
            }
        }
        #expect(h.clock.nowMs - startMs >= 25_000)
        _ = try await h.queue.rescueExpiredLeases()
        for id in ids {
            let job = try await h.queue.requireJob(id)
            #expect(job.status == .running)
            #expect(job.attempt == 1)
            #expect(job.leaseExpiries == 0)
        }
        try await workers.stop()
    }

    /// The keeper is not cancelled with the workers' task: a handler that
    /// ignores cancellation keeps its lease until it returns.
    @Test(arguments: Backends.allFixtures())
    func aHandlerRunningOnAfterTheWorkersTaskIsCancelledKeepsItsLease(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let release = Gate()
        defer { release.open() }
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                await release.waitIgnoringCancellation()
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        await started.wait()
        workers.task.cancel()
        for second in 1...25 {
            try await advance(h.clock, by: .seconds(1), until: "the lease to stay ahead at \(second) s") {
                try await h.queue.requireJob(id).leaseExpiresAtMs ?? 0 > h.clock.nowMs + 9_000
            }
        }
        _ = try await h.queue.rescueExpiredLeases()
        #expect(try await h.queue.requireJob(id).attempt == 1)
        #expect(!workers.hasFinished, "run() waits for the handler")
        release.open()
        _ = try? await workers.task.value
        // Stopped when the workers' task was cancelled, it returned partial work: back to the queue.
        let job = try await h.queue.requireJob(id)
        #expect(job.status == .queued)
        #expect(job.failures == 0)
    }

    /// While jobs run the keeper sleeps up to a progress flush interval
    /// (200 ms here); a job due sooner wakes it, so its timeout is on time.
    @Test(arguments: Backends.allFixtures())
    func aJobDueBeforeTheNextPassWakesTheKeeper(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Locked<Set<String>>([])
        let workers = h.start(workerConfiguration(count: 2)) { workers in
            workers.register(.train) { job in
                started.withLock { _ = $0.insert(job.job.target) }
                await waitUntilCancelled()
                throw CancellationError()
            }
        }
        _ = try await h.queue.submit(MLJobSubmission(kind: .train, target: "long"))
        try await eventually("the long job to start") { started.value.contains("long") }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "short", timeout: .milliseconds(50)))
        try await eventually("the short job to start") { started.value.contains("short") }
        // 60 ms, then 10 ms at a time up to 150 ms: never as far as the keeper's planned pass
        // (200 ms on), but past a sleep for the timeout that began just after a move of the clock.
        h.clock.advance(by: .milliseconds(60))
        var moved = 60
        let timedOut = try await waitForJob(h.queue, id, "the short job to time out", timeout: .seconds(10)) { job in
            if job.failures == 1 { return true }
            if moved < 150 {
                h.clock.advance(by: .milliseconds(10))
                moved += 10
            }
            return false
        }
        #expect(timedOut.error == "timed out after 50 ms")
        try await workers.stop()
    }
}
