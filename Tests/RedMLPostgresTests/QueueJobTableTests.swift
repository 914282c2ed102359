import Foundation
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Synchronization
import Testing

/// The queue over PostgreSQL's job table, where a test reaches behind the queue with SQL.
@Suite("The queue on PostgreSQL's job table", .needsPostgres)
struct QueueJobTableTests {
    @Test("a corrupt job record is set aside: the queue runs the others, and listings report it")
    func aCorruptRecordDoesNotStallTheQueue() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = MLJobQueue(store: store)
            // A job whose record is then damaged behind the queue's back, ahead of a good one.
            let damaged = try await Scratch.submitDamagedJob(queue, schema: schemas[0], record: "'{not json'")
            let good = try await queue.submit(MLJobSubmission(kind: .train, target: "good"))
            let workers = MLJobWorkers(queue: queue)
            workers.register(.train) { _ in
                workers.beginShutdown()
                return ["ok": true]
            }
            try await workers.run()
            #expect(try await queue.job(good)?.status == .completed)
            #expect(try await queue.jobs().skipped.count == 1)
            let ready = try await Scratch.textRows(
                "SELECT ready::text, status FROM \(unescaped: schema).ml_job WHERE key = \(MLKey.job(damaged))", columns: 2)
            #expect(ready == ["false|set_aside"], "the damaged job is no longer picked")
            // Nor made ready again: promotion looks only at queued jobs.
            #expect(try await queue.promoteScheduledJobs() == 0)
        }
    }

    @Test("a job whose history is ahead of its record is set aside and named: the claims behind it go on")
    func historyAheadDoesNotStallTheQueue() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = MLJobQueue(store: store)
            // A hand-added event at the sequence the job's claim would take (its record counts one event).
            let damaged = try await queue.submit(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
            let key = MLKey.job(damaged)
            _ = try await Scratch.textRows(
                "INSERT INTO \(unescaped: schema).ml_job_event VALUES (\(key), 2, '{}') RETURNING key", columns: 1)
            let good = try await queue.submit(MLJobSubmission(kind: .train, target: "good"))
            let workers = MLJobWorkers(queue: queue)
            workers.register(.train) { _ in
                workers.beginShutdown()
                return ["ok": true]
            }
            // Without the fix every claim fails on the damaged job and the good one never runs.
            let deadline = Task {
                try await Task.sleep(for: .seconds(10))
                workers.beginShutdown()
            }
            try await workers.run()
            deadline.cancel()
            #expect(try await queue.job(good)?.status == .completed)
            let rows = try await Scratch.textRows(
                "SELECT status FROM \(unescaped: schema).ml_job WHERE key = \(key)", columns: 1)
            #expect(rows == ["set_aside"], "the damaged job is no longer picked")
            // Read or listed, it is named as damaged, not shown as the queued job its record says it is.
            let read = await #expect(throws: MLPersistenceError.self) { _ = try await queue.job(damaged) }
            #expect(String(describing: read).contains("history"), "\(String(describing: read))")
            let required = await #expect(throws: MLJobError.self) { _ = try await queue.requireJob(damaged) }
            #expect(required?.code == .jobCorrupt)
            let page = try await queue.jobs()
            #expect(page.jobs.map(\.id) == [good])
            #expect(page.skipped.count == 1 && "\(page.skipped)".contains("jobs/\(key)"), "\(page.skipped)")
            #expect(try await queue.jobs(MLJobQuery(status: .setAside)).setAside.map(\.id) == [damaged])
            // A claim that meets it again (made ready by hand) names the job and what is wrong with it.
            _ = try await Scratch.textRows(
                "UPDATE \(unescaped: schema).ml_job SET status = 'queued', ready = true WHERE key = \(key) RETURNING key",
                columns: 1)
            let claim = await #expect(throws: MLPersistenceError.self) {
                _ = try await store.startJobAttempts(MLJobAttempts(
                    queue: "default", kinds: nil, limit: 4, worker: "w", leaseMs: 1_000, nowMs: { 0 }))
            }
            #expect(String(describing: claim).contains("jobs/\(key): its history"), "\(String(describing: claim))")
        }
    }

    @Test("a damaged event after a gap in a job's history is named by its own sequence number")
    func historyGapNamesTheEvent() async throws {
        try await Scratch.withSchemas { schemas in
            let schema = "\"\(schemas[0])\""
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = MLJobQueue(store: store)
            let job = try await queue.submit(MLJobSubmission(kind: .train, target: "t"))
            let key = MLKey.job(job)
            // Event 1 is the submission; 2 to 6 are missing, and 7 is not JSON.
            _ = try await Scratch.textRows(
                "INSERT INTO \(unescaped: schema).ml_job_event VALUES (\(key), 7, 'not json') RETURNING key", columns: 1)
            let history = try await queue.historyReport(of: job)
            #expect(history.events.map(\.reason) == ["submitted"])
            #expect(history.skipped.map(\.description).allSatisfy { $0.contains("job_history/\(key)/00000007") },
                    "\(history.skipped)")
            #expect(history.skipped.count == 1)
        }
    }

    @Test("a pool takes only its kinds: other kinds' jobs wait for their pool and use up no attempt")
    func claimsFilterKindsInTheTable() async throws {
        try await Scratch.withSchemas { schemas in
            let store = try await PostgresBackend.makeStore(schema: schemas[0])
            let queue = MLJobQueue(store: store)
            let others = try await queue.submitJobs((0..<50).map { _ in MLJobSubmission(kind: .driftCompute, target: "d") })
            let train = try await queue.submit(MLJobSubmission(kind: .train, target: "m"))
            let trainers = MLJobWorkers(queue: queue)
            trainers.register(.train) { _ in
                trainers.beginShutdown()
                return [:]
            }
            try await trainers.run()
            #expect(try await queue.job(train)?.status == .completed)
            for job in others {
                let stored = try #require(try await queue.job(job.id))
                #expect(stored.status == .queued && stored.attempt == 0, "\(stored.status), attempt \(stored.attempt)")
            }
            let drifters = MLJobWorkers(queue: MLJobQueue(store: store))
            let ran = Mutex(0)
            drifters.register(.driftCompute) { _ in
                if ran.withLock({ $0 += 1; return $0 }) == others.count { drifters.beginShutdown() }
                return [:]
            }
            try await drifters.run()
            for job in others {
                let stored = try #require(try await queue.job(job.id))
                #expect(stored.status == .completed && stored.attempt == 1)
            }
        }
    }
}
