import Foundation
import RedML
import Testing

@testable import RedMLQueue

/// Worker loops on the in-memory store with a manual clock that is
/// never advanced, so a wake-up that is lost leaves a job queued for ever.
@Suite("Worker loops: no wake-up lost")
struct WorkerLoopWakeUpTests {
    @Test(arguments: [1, 2, 3, 8])
    func concurrentSubmissionsAllRun(slots: Int) async throws {
        let h = Harness(store: InMemoryMLPersistence())
        let workers = h.start(workerConfiguration(count: slots)) { workers in
            workers.register(.train) { _ in
                if Bool.random() { await Task.yield() }
                return [:]
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        var ids: [UInt128] = []
        try await withThrowingTaskGroup(of: [UInt128].self) { group in
            for submitter in 0..<6 {
                group.addTask {
                    var ids: [UInt128] = []
                    for index in 0..<40 {
                        ids.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "s\(submitter)-\(index)")))
                        if index % 7 == 0 { try await Task.sleep(for: .milliseconds(1)) }
                    }
                    return ids
                }
            }
            for try await batch in group { ids += batch }
        }
        try await eventually("every job completed", timeout: .seconds(20)) {
            try await allCompleted(ids, in: h.queue)
        }
        try await workers.stop()
    }

    @Test func namedQueuesEachRun() async throws {
        let h = Harness(store: InMemoryMLPersistence())
        let workers = h.start(workerConfiguration(count: 2, queues: ["gpu": 1, "cpu": 3])) { workers in
            workers.register(.train) { _ in [:] }
        }
        try await Task.sleep(for: .milliseconds(50))
        var ids: [UInt128] = []
        for round in 0..<30 {
            for queue in ["default", "gpu", "cpu"] {
                ids.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "\(queue)\(round)", queue: queue)))
            }
        }
        try await eventually("every job completed", timeout: .seconds(20)) {
            try await allCompleted(ids, in: h.queue)
        }
        try await workers.stop()
    }

    /// Two pools of different kinds on one queue: a claim of the pool that
    /// does not run a job may hold it (picked, then passed over) while the
    /// other pool claims. That claim must not come back empty and send the
    /// pool that runs the job to sleep until a poll that never comes.
    @Test func poolsOfOtherKindsDoNotHideJobs() async throws {
        let h = Harness(store: InMemoryMLPersistence())
        let trainers = h.start(workerConfiguration(id: "trainer", count: 1)) { workers in
            workers.register(.train) { _ in [:] }
        }
        let others = h.start(workerConfiguration(id: "other", count: 4)) { workers in
            workers.register(.backfill) { _ in [:] }
        }
        try await Task.sleep(for: .milliseconds(50))
        for index in 0..<300 {
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m\(index)"))
            try await eventually("train job \(index) completed without the clock moving", timeout: .seconds(10)) {
                try await h.queue.job(id)?.status == .completed
            }
        }
        try await trainers.stop()
        try await others.stop()
    }

    @Test func handlerRegisteredAfterRunStarted() async throws {
        let h = Harness(store: InMemoryMLPersistence())
        let workers = h.start(workerConfiguration(count: 4)) { _ in }
        try await Task.sleep(for: .milliseconds(50))
        var ids: [UInt128] = []
        for index in 0..<12 { ids.append(try await h.queue.submit(MLJobSubmission(kind: .train, target: "m\(index)"))) }
        try await Task.sleep(for: .milliseconds(50))
        workers.workers.register(.train) { _ in [:] }
        try await eventually("every job completed", timeout: .seconds(10)) {
            try await allCompleted(ids, in: h.queue)
        }
        try await workers.stop()
    }

    /// Jobs whose handlers submit more jobs, while every slot is busy.
    @Test func handlersThatSubmit() async throws {
        let h = Harness(store: InMemoryMLPersistence())
        let queue = h.queue
        let workers = h.start(workerConfiguration(count: 3)) { workers in
            workers.register(.train) { handle in
                let depth = Int(handle.job.target) ?? 0
                if depth < 6 {
                    _ = try await queue.submit(MLJobSubmission(kind: .train, target: "\(depth + 1)"))
                    _ = try await queue.submit(MLJobSubmission(kind: .train, target: "\(depth + 1)"))
                }
                return [:]
            }
        }
        _ = try await queue.submit(MLJobSubmission(kind: .train, target: "0"))
        try await eventually("127 jobs completed", timeout: .seconds(20)) {
            let jobs = try await h.entries(MLNamespace.jobs)
            return jobs.count == 127 && jobs.allSatisfy { $0.value.contains("\"completed\"") }
        }
        try await workers.stop()
    }

    /// Shutdown while every loop is idle: run() returns without the clock moving.
    @Test(arguments: [1, 4, 16])
    func shutdownWhileIdle(slots: Int) async throws {
        let h = Harness(store: InMemoryMLPersistence())
        let workers = h.start(workerConfiguration(count: slots, queues: ["gpu": 2])) { workers in
            workers.register(.train) { _ in [:] }
        }
        try await Task.sleep(for: .milliseconds(100))
        workers.workers.beginShutdown()
        try await eventually("run() returned without the clock moving", timeout: .seconds(30)) { workers.hasFinished }
        try await workers.task.value
    }

    /// Shutdown right after start, before the loops are set up.
    @Test func shutdownAtOnce() async throws {
        for _ in 0..<20 {
            let h = Harness(store: InMemoryMLPersistence())
            let workers = h.start(workerConfiguration(count: 4, queues: ["gpu": 2])) { workers in
                workers.register(.train) { _ in [:] }
            }
            workers.workers.beginShutdown()
            try await eventually("run() returned without the clock moving", timeout: .seconds(30)) { workers.hasFinished }
            try await workers.task.value
        }
    }
}

/// Whether every job of `ids` has completed.
private func allCompleted(_ ids: [UInt128], in queue: MLJobQueue) async throws -> Bool {
    for id in ids where try await queue.job(id)?.status != .completed { return false }
    return true
}
