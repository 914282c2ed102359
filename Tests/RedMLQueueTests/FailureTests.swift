import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// How attempts fail: non-retryable failures, timeouts, missing handlers.
@Suite("Failures and timeouts")
struct FailureTests {
    @Test(arguments: Backends.allFixtures())
    func nonRetryableFailureFailsAtOnce(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let calls = Invocations()
        let workers = h.start { workers in
            workers.register(.train) { job in
                calls.record(job.id)
                throw MLJobFailure("the dataset is empty", retryable: false)
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 5))
        let failed = try await waitForStatus(h.queue, id, .failed)
        try await workers.stop()
        #expect(failed.failures == 1)
        #expect(failed.attempt == 1)
        #expect(failed.error == "the dataset is empty")
        #expect(failed.finishedAtMs == startMs)
        #expect(calls.count(id) == 1)
        let last = try #require(try await h.queue.history(of: id).last)
        #expect(last.reason == "failed")
        #expect(last.to == .failed)
        #expect(last.detail == "the dataset is empty")
    }

    @Test(arguments: Backends.allFixtures())
    func anyOtherErrorIsRetryableAndRecorded(_ fixture: MLStoreFixture) async throws {
        struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full" } }
        let h = try await Harness(fixture)
        let workers = h.start { workers in
            workers.register(.train) { job in
                if job.attempt == 1 { throw DiskFull() }
                return ["ok": true]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 2))
        let retrying = try await waitForJob(h.queue, id, "the first failure") { $0.failures == 1 }
        #expect(retrying.status == .queued)
        #expect(retrying.error == "disk full")
        h.clock.advance(by: .seconds(1))
        _ = try await h.queue.promoteScheduledJobs()
        let done = try await waitForStatus(h.queue, id, .completed, nudging: h.clock)
        try await workers.stop()
        #expect(done.failures == 1)
        #expect(done.attempt == 2)
        #expect(done.metrics == ["ok": true])
        #expect(done.error == nil, "a completed job carries no earlier attempt's error")
        #expect(try await h.queue.history(of: id).contains { $0.reason == "failed" && $0.detail == "disk full" })
    }

    @Test(arguments: Backends.allFixtures())
    func maxAttemptsOneFailsOnTheFirstError(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let workers = h.start { workers in
            workers.register(.train) { _ in throw MLJobFailure("nope") }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 1))
        let failed = try await waitForStatus(h.queue, id, .failed)
        try await workers.stop()
        #expect(failed.failures == 1)
        #expect(failed.error == "nope")
    }

    @Test(arguments: Backends.allFixtures())
    func timeoutFailsTheAttemptAndRetries(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let sawCancellation = Locked(false)
        let workers = h.start { workers in
            workers.register(.train) { job in
                if job.attempt == 1 {
                    started.open()
                    await waitUntilCancelled()
                    sawCancellation.withLock { $0 = Task.isCancelled }
                    throw CancellationError()
                }
                return ["attempt": .int(Int64(job.attempt))]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 3, timeout: .seconds(5)))
        #expect(try await h.queue.requireJob(id).timeoutMs == 5_000)
        await started.wait()
        h.clock.advance(by: .milliseconds(4_900))
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await h.queue.requireJob(id).status == .running)
        try await advance(h.clock, by: .milliseconds(100), until: "the attempt to time out") {
            try await h.queue.requireJob(id).failures == 1
        }
        let retrying = try await h.queue.requireJob(id)
        #expect(sawCancellation.value)
        #expect(retrying.status == .queued)
        #expect(retrying.error == "timed out after 5000 ms")
        let event = try #require(try await h.queue.history(of: id).last)
        #expect(event.reason == "timed_out")
        #expect(event.from == .running)
        #expect(event.to == .queued)
        #expect(event.attempt == 1)
        #expect(event.detail == "timed out after 5000 ms")

        try await advance(h.clock, by: .seconds(1), until: "the second attempt to complete") {
            _ = try await h.queue.promoteScheduledJobs()
            return try await h.queue.requireJob(id).status == .completed
        }
        try await workers.stop()
        let done = try await h.queue.requireJob(id)
        #expect(done.attempt == 2)
        #expect(done.failures == 1)
        #expect(done.metrics == ["attempt": 2])
    }

    @Test(arguments: Backends.allFixtures())
    func timeoutOnTheLastAttemptFailsTheJob(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let started = Gate()
        let workers = h.start { workers in
            workers.register(.train) { _ in
                started.open()
                try await h.clock.sleep(for: .seconds(3_600))  // cancelled by the timeout
                return [:]
            }
        }
        let id = try await h.queue.submit(
            MLJobSubmission(kind: .train, target: "m", maxAttempts: 1, timeout: .milliseconds(1_000)))
        await started.wait()
        try await advance(h.clock, by: .milliseconds(1_000), until: "the job to fail") {
            try await h.queue.requireJob(id).status == .failed
        }
        try await workers.stop()
        let failed = try await h.queue.requireJob(id)
        #expect(failed.failures == 1)
        #expect(failed.error == "timed out after 1000 ms")
        #expect(try await h.queue.history(of: id).last?.reason == "timed_out")
    }

    /// Past the scan limit: a claim that looked through a thousand jobs of
    /// another kind stops, and the next one goes on from there, so a job
    /// behind more than a thousand of them is still reached.
    @Test(arguments: Backends.allFixtures())
    func aJobBehindMoreThanTheScanLimitOfOtherKindsIsReached(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let others = (0..<1_300).map {  // more than one claim's scan limit, 1,000
            MLJobSubmission(kind: "embed_images", target: "photos-\($0)", priority: 5)
        }
        _ = try await h.queue.submitJobs(others)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        let workers = h.start { workers in workers.register(.train) { _ in [:] } }
        // Each poll (250 ms on the test clock) is one more claim.
        try await advance(h.clock, by: .milliseconds(250), until: "the train job to complete") {
            try await h.queue.requireJob(id).status == .completed
        }
        try await workers.stop()
        // Passed over, every one of them: still queued, never claimed.
        var untouched: [MLJob] = []
        var query = MLJobQuery(limit: 1_000, status: .queued)
        repeat {
            let page = try await h.queue.jobs(query)
            untouched += page.jobs
            query.after = page.nextCursor
        } while query.after != nil
        #expect(untouched.count == 1_300)
        #expect(untouched.allSatisfy { $0.kind == "embed_images" && $0.attempt == 0 })
    }

    /// Whoever runs the workers hears of each failed attempt (retried or not)
    /// and of a shutdown, at levels a default logger shows.
    @Test func failedAttemptsAndShutdownAreLogged() async throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "the GPU fell off" } }
        let logs = CapturedLogs()
        let clock = MLManualClock(nowMs: startMs)
        var configuration = MLJobQueue.Configuration()
        configuration.clock = clock
        configuration.logger = logs.logger
        let queue = MLJobQueue(store: try await Backends.inMemory.makeStore(), configuration: configuration)
        let workers = RunningWorkers.start(queue: queue, configuration: workerConfiguration(), clock: clock) { workers in
            workers.register(.train) { _ in throw Broken() }
        }
        let id = try await queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 1))
        try await waitForStatus(queue, id, .failed)
        try await workers.stop()
        let failure = try #require(logs.all.first { $0.message == "a job's attempt failed" })
        #expect(failure.level == .warning)
        #expect(failure.metadata["job_id"] == MLKey.job(id))
        #expect(failure.metadata["error"] == "the GPU fell off")
        #expect(failure.metadata["then"] == "failed")
        #expect(logs.all.contains { $0.level == .info && $0.message.hasPrefix("shutting down") })
    }

    /// A pool claims only the kinds it has handlers for: a job of another kind
    /// stays queued, using up no attempt, until a pool that runs it claims it,
    /// even when many such jobs stand ahead of the pool's own in the queue.
    @Test(arguments: Backends.allFixtures())
    func aJobOfAKindWithoutAHandlerWaitsForAPoolThatRunsIt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        var others: [UInt128] = []
        for index in 0..<40 {  // ahead of the train jobs: higher priority
            others.append(try await h.queue.submit(
                MLJobSubmission(kind: "embed_images", target: "photos-\(index)", priority: 5, maxAttempts: 2)))
        }
        var trains: [UInt128] = []
        for index in 0..<3 {
            trains.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "m\(index)")))
        }
        let trainers = h.start(workerConfiguration(id: "trainer", count: 2)) { workers in
            workers.register(.train) { _ in [:] }
        }
        for id in trains { try await waitForStatus(h.queue, id, .completed) }
        try await trainers.stop()
        for id in others {
            let job = try await h.queue.requireJob(id)
            #expect(job.status == .queued && job.attempt == 0 && job.failures == 0, "\(job)")
        }

        let embedders = h.start(workerConfiguration(id: "embedder", count: 4)) { workers in
            workers.register("embed_images") { _ in ["embedded": true] }
        }
        for id in others {
            let done = try await waitForStatus(h.queue, id, .completed)
            #expect(done.attempt == 1 && done.failures == 0)
            #expect(try await h.queue.history(of: id).map(\.worker).contains("trainer") == false)
        }
        try await embedders.stop()
    }

    @Test(arguments: Backends.allFixtures())
    func aCheckpointHoldingNaNIsRefused(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let caught = Locked<MLJobError.Code?>(nil)
        let workers = h.start { workers in
            workers.register(.train) { job in
                do {
                    try await job.checkpoint(["loss": .double(.nan)])
                } catch let error as MLJobError {
                    caught.withLock { $0 = error.code }
                }
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        let done = try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
        #expect(caught.value == .invalidArgument)
        #expect(done.checkpoint == nil)
    }
}
