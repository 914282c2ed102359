import Foundation
import RedML
import Synchronization

/// Agent modes for the job queue's multi-process tests; see the usage in main.swift.
enum QueueMode: String {
    case submit = "queue-submit"
    case work = "queue-work"

    /// The job kind these modes submit and run.
    static let kind: MLJob.Kind = "crash"

    func run(path: String, arguments: [String]) async throws {
        switch self {
        case .submit:
            guard arguments.count == 1, let count = Int(arguments[0]), count >= 0 else {
                fail("queue-submit PATH COUNT")
            }
            let store = try SQLiteMLPersistence(path: path)
            let queue = MLJobQueue(store: store)
            for i in 0..<count {
                try await queue.submit(MLJobSubmission(
                    kind: Self.kind, target: "crash-\(i)", spec: ["n": .int(Int64(i)), "steps": .int(5)]))
            }
            try store.close()
            say("submitted \(count)")
        case .work:
            guard arguments.count == 2, let workerCount = Int(arguments[0]), workerCount > 0,
                let heartbeat = Int(arguments[1]), heartbeat > 0
            else { fail("queue-work PATH WORKERS HEARTBEAT_MS") }
            try await Self.work(path: path, workerCount: workerCount, heartbeatMs: heartbeat)
        }
    }

    /// Runs workers on the file until every job in it is terminal, then prints "idle".
    private static func work(path: String, workerCount: Int, heartbeatMs: Int) async throws {
        let store = try SQLiteMLPersistence(path: path)
        let queue = MLJobQueue(store: store)
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = workerCount
        configuration.heartbeatInterval = .milliseconds(heartbeatMs)
        configuration.pollInterval = .milliseconds(20)
        configuration.workerID = "agent-\(ProcessInfo.processInfo.processIdentifier)"
        let workers = MLJobWorkers(queue: queue, configuration: configuration)
        workers.register(kind) { job in
            let key = job.job.key
            let steps = Int(job.spec["steps"]?.intValue ?? 5)
            // "step" is the number of steps done; a new attempt resumes after it.
            let from = Int(job.checkpoint?["step"]?.intValue ?? 0)
            say("start \(key) attempt \(job.attempt) from \(from)")
            var step = from
            while step < steps {
                try await Task.sleep(for: .milliseconds(2))  // the "work" of one step
                step += 1
                try await job.checkpoint(["step": .int(Int64(step))], progress: Double(step) * 100 / Double(steps))
                say("checkpoint \(key) \(step)")
            }
            say("done \(key)")
            return ["steps": .int(Int64(steps)), "resumed_from": .int(Int64(from))]
        }
        let running = Task { try await workers.run() }
        // Idle once two looks in a row, 100 ms apart, find no queued and no running job:
        // one look is not atomic (a job may be claimed or requeued between its two queries).
        var idleLooks = 0
        while idleLooks < 2 {
            try await Task.sleep(for: .milliseconds(100))
            let running = try await queue.jobs(MLJobQuery(limit: 1, status: .running))
            let queued = try await queue.jobs(MLJobQuery(limit: 1, status: .queued))
            idleLooks = running.jobs.isEmpty && queued.jobs.isEmpty ? idleLooks + 1 : 0
        }
        workers.beginShutdown()
        try await running.value
        try store.close()
        say("idle")
    }
}
