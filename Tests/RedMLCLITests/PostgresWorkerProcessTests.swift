import Foundation
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// `redml worker` and `redml models register` processes sharing one
/// PostgreSQL schema, as processes on several machines would.
///
/// The server comes from `POSTGRES_URL` (`scripts/test` starts one); each
/// test uses a schema of its own, named with the URL's `schema` parameter.
@Suite("redml processes on one PostgreSQL", .enabled(if: !PostgresBackend.isSkipped, "REDML_SKIP_POSTGRES=1"))
struct PostgresWorkerProcessTests {
    /// A handler every worker serves: reads the spec, prints empty metrics.
    static let noop = "noop=cat >/dev/null; echo {}"

    @Test("3 redml worker processes × 4 workers drain 10,000 jobs; the history shows each job claimed and completed once")
    func threeWorkersDrainTenThousandJobs() async throws {
        let jobs = 10_000
        try await PostgresScratch.withSchema { scratch in
            try await scratch.submit(jobs, kind: "noop")
            let workers = try (0..<3).map { _ in
                // A long heartbeat: on 2 loaded cores a debug-built worker can stall past a 4 s lease,
                // and a rescued job runs twice, which this test must not confuse with a claiming bug.
                try BackgroundRedML(["worker", "--store", scratch.url, "--workers", "4", "--heartbeat", "10",
                                     "--exec", Self.noop],
                                    in: FileManager.default.temporaryDirectory)
            }
            try await scratch.waitForFinishedJobs(jobs, timeout: .seconds(600), workers: workers)
            for worker in workers { worker.signal(SIGTERM) }
            for worker in workers { #expect(try await worker.waitForExit() == 0, "\(worker.stderr)") }

            let events = try await scratch.eventCounts()
            #expect(events.count == jobs)
            #expect(try await scratch.rescues().isEmpty, "leases expired during the run")
            let ranTwice = events.filter { $0.value.claimed != 1 || $0.value.completed != 1 }
            #expect(ranTwice.isEmpty, "jobs not claimed and completed exactly once: \(ranTwice.prefix(5))")
            // Every process took part: the claims name three distinct workers.
            let claimers = try await scratch.claimingWorkers()
            #expect(claimers.count == 3, "\(claimers)")
        }
    }

    @Test("a worker killed with SIGKILL mid-run has its jobs rescued in time, none lost; a stopped worker's late writes are refused")
    func killedAndStoppedWorkers() async throws {
        let jobs = 600
        let heartbeat: Int64 = 2_000  // MLJobWorkers' default heartbeat; the lease lasts two
        try await PostgresScratch.withSchema { scratch in
            try await scratch.submit(jobs, kind: "slow")
            let slow = "slow=cat >/dev/null; sleep 0.1; echo {}"
            let directory = FileManager.default.temporaryDirectory
            let killed = try BackgroundRedML(["worker", "--store", scratch.url, "--workers", "4", "--exec", slow], in: directory)
            let zombie = try BackgroundRedML(["worker", "--store", scratch.url, "--workers", "4", "--exec", slow], in: directory)
            let survivor = try BackgroundRedML(["worker", "--store", scratch.url, "--workers", "4", "--exec", slow], in: directory)
            try await scratch.waitForFinishedJobs(jobs / 5, timeout: .seconds(300), workers: [killed, zombie, survivor])
            // On loaded cores a process may start late: both victims must hold jobs when they are hit.
            for victim in [killed, zombie] {
                try await scratch.waitUntilRunningJobs(of: victim, timeout: .seconds(120))
            }

            // One worker dies; another freezes with its jobs in hand, as in a long GC pause or a VM stall.
            // Both are first stopped at a moment when they hold running jobs (a worker between
            // finishing its jobs and claiming the next ones holds none).
            var total = jobs
            total += try await scratch.freezeHoldingJobs(zombie, kind: "slow")
            total += try await scratch.freezeHoldingJobs(killed, kind: "slow")
            killed.signal(SIGKILL)
            let killedAtMs = Int64(Date().timeIntervalSince1970 * 1000)
            try await scratch.waitForFinishedJobs(total, timeout: .seconds(300), workers: [survivor])
            // The frozen worker wakes up and tries to finish the jobs it no longer owns.
            zombie.signal(SIGCONT)
            try await Task.sleep(for: .seconds(3))
            for worker in [zombie, survivor] { worker.signal(SIGTERM) }
            for worker in [zombie, survivor] { #expect(try await worker.waitForExit() == 0, "\(worker.stderr)") }

            let events = try await scratch.eventCounts()
            #expect(events.count == total)
            let notOnce = events.filter { $0.value.completed != 1 }
            #expect(notOnce.isEmpty, "jobs not completed exactly once: \(notOnce.prefix(5))")

            let rescues = try await scratch.rescues()
            let killedWorker = ":\(killed.processIdentifier):"
            let zombieWorker = ":\(zombie.processIdentifier):"
            let ofKilled = rescues.filter { $0.worker.contains(killedWorker) }
            let ofZombie = rescues.filter { $0.worker.contains(zombieWorker) }
            #expect(!ofKilled.isEmpty, "no job of the killed worker was rescued: \(rescues)")
            #expect(!ofZombie.isEmpty, "no job of the stopped worker was rescued: \(rescues)")
            // A lease lasts two heartbeats after its last renewal (at most at the kill); the
            // rescuer then requeues it within two more heartbeats.
            for rescue in ofKilled + ofZombie {
                #expect(rescue.atMs - killedAtMs <= 4 * heartbeat, "rescued \(rescue.atMs - killedAtMs) ms after the kill")
            }
            // The zombie's late results were refused: its rescued jobs were completed by someone else.
            let completers = try await scratch.completingWorkers(of: ofZombie.map(\.job))
            #expect(completers.allSatisfy { !$0.contains(zombieWorker) }, "\(completers)")
            #expect(zombie.stderr.contains("lost the lease") || zombie.stderr.contains("could not record the job's outcome"),
                    "\(zombie.stderr.suffix(2_000))")
        }
    }

    @Test("4 processes registering 50 versions each of one model get exactly versions 1…200")
    func registrationRace() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            try Data(repeating: 7, count: 64).write(to: directory.url.appendingPathComponent("weights.bin"))
            let folder = directory.url
            try await withThrowingTaskGroup(of: [RedMLResult].self) { group in
                for process in 0..<4 {
                    group.addTask {
                        var results: [RedMLResult] = []
                        for index in 0..<50 {
                            results.append(try await RedMLExecutable.run(
                                ["models", "register", "race", "--store", scratch.url, "--weights", "weights.bin",
                                 "--metrics", #"{"process": \#(process), "index": \#(index)}"#],
                                in: folder, environment: [:]))
                        }
                        return results
                    }
                }
                for try await results in group {
                    for result in results { expectSuccess(result) }
                }
            }
            let versions = try await scratch.versionNumbers(of: "race")
            #expect(versions == Array(1...200))
        }
    }
}

/// One PostgreSQL schema for one test, reached through `redml --store URL?schema=…`
/// by the processes and through the shared pool by the test.
struct PostgresScratch: Sendable {
    let schema: String
    /// The store URL the processes get.
    let url: String

    static func withSchema(_ body: (PostgresScratch) async throws -> Void) async throws {
        let base = try PostgresBackend.url()
        let schema = PostgresBackend.uniqueSchemaName()
        let separator = base.contains("?") ? "&" : "?"
        let scratch = PostgresScratch(schema: schema, url: "\(base)\(separator)schema=\(schema)")
        do {
            try await body(scratch)
            try await PostgresBackend.dropSchema(schema)
        } catch {
            try? await PostgresBackend.dropSchema(schema)
            throw error
        }
    }

    /// The job table and its events (read with SQL, behind the queue's back).
    private var jobTable: String { "\"\(schema)\".ml_job" }
    private var eventTable: String { "\"\(schema)\".ml_job_event" }

    /// Submits `count` jobs of `kind` through a queue of the test's own.
    func submit(_ count: Int, kind: String) async throws {
        let store = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schema)
        try await store.migrate()
        let queue = MLJobQueue(store: store)
        for start in stride(from: 0, to: count, by: 1_000) {
            _ = try await queue.submitJobs((start..<min(count, start + 1_000)).map {
                MLJobSubmission(kind: MLJob.Kind(rawValue: kind), target: "t\($0)")
            })
        }
    }

    /// Waits until `count` jobs are finished; on timeout, the error shows the workers' stderr.
    func waitForFinishedJobs(_ count: Int, timeout: Duration, workers: [BackgroundRedML]) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let finished = try await integer("SELECT count(*) FROM \(jobTable) WHERE finished_at_ms IS NOT NULL")
            if finished >= count { return }
            guard ContinuousClock.now < deadline else {
                let logs = workers.map { String($0.stderr.suffix(1_000)) }.joined(separator: "\n---\n")
                throw RedMLExecutableFailure(description: "only \(finished) of \(count) jobs finished in \(timeout):\n\(logs)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// How many jobs the store shows running under `worker`.
    func runningJobs(of worker: BackgroundRedML) async throws -> Int {
        try await integer("""
            SELECT count(*) FROM \(jobTable) WHERE status = 'running'
              AND record::jsonb->>'worker' LIKE '%:\(worker.processIdentifier):%'
            """)
    }

    /// Stops `worker` with SIGSTOP at a moment when it holds running jobs;
    /// otherwise lets it go on a little and tries again.
    ///
    /// If the other workers drained the queue meanwhile (a loaded machine runs the
    /// tries slowly), submits `refill` more jobs of `kind` for it to take; returns how many it submitted.
    @discardableResult
    func freezeHoldingJobs(_ worker: BackgroundRedML, refill: Int = 100, kind: String) async throws -> Int {
        var submitted = 0
        for _ in 0..<100 {
            worker.signal(SIGSTOP)
            try await Task.sleep(for: .milliseconds(200))  // a commit it had sent lands meanwhile
            if try await runningJobs(of: worker) > 0 { return submitted }
            worker.signal(SIGCONT)
            if try await integer("SELECT count(*) FROM \(jobTable) WHERE status = 'queued'") == 0 {
                try await submit(refill, kind: kind)
                submitted += refill
            }
            try await Task.sleep(for: .milliseconds(150))
        }
        throw RedMLExecutableFailure(description: "worker \(worker.processIdentifier) never held a running job when stopped")
    }

    /// Waits until `worker` has a job running (its lease names the process id).
    func waitUntilRunningJobs(of worker: BackgroundRedML, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await runningJobs(of: worker) > 0 { return }
            guard ContinuousClock.now < deadline else {
                throw RedMLExecutableFailure(
                    description: "worker \(worker.processIdentifier) ran no job in \(timeout):\n\(worker.stderr.suffix(1_000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Per job: how many `claimed` and `completed` events its history holds.
    func eventCounts() async throws -> [String: (claimed: Int, completed: Int)] {
        let rows = try await PostgresBackend.sharedClient().query(PostgresQuery(unsafeSQL: """
            SELECT key,
                   count(*) FILTER (WHERE record::jsonb->>'reason' = 'claimed'),
                   count(*) FILTER (WHERE record::jsonb->>'reason' = 'completed')
            FROM \(eventTable) GROUP BY 1
            """))
        var counts: [String: (claimed: Int, completed: Int)] = [:]
        for try await (job, claimed, completed) in rows.decode((String, Int64, Int64).self) {
            counts[job] = (Int(claimed), Int(completed))
        }
        return counts
    }

    /// The distinct workers named by `claimed` events.
    func claimingWorkers() async throws -> Set<String> {
        Set(try await strings("""
            SELECT DISTINCT record::jsonb->>'worker' FROM \(eventTable)
            WHERE record::jsonb->>'reason' = 'claimed'
            """))
    }

    /// Every `lease_expired` event: the job, when, and the worker whose lease it was.
    func rescues() async throws -> [(job: String, atMs: Int64, worker: String)] {
        let rows = try await PostgresBackend.sharedClient().query(PostgresQuery(unsafeSQL: """
            SELECT key, (record::jsonb->>'at_ms')::bigint, coalesce(record::jsonb->>'worker', '')
            FROM \(eventTable) WHERE record::jsonb->>'reason' = 'lease_expired'
            """))
        var rescues: [(job: String, atMs: Int64, worker: String)] = []
        for try await (job, atMs, worker) in rows.decode((String, Int64, String).self) {
            rescues.append((job, atMs, worker))
        }
        return rescues
    }

    /// The workers named by the `completed` events of `jobs`.
    func completingWorkers(of jobs: [String]) async throws -> [String] {
        var workers: [String] = []
        for job in jobs {
            workers += try await strings("""
                SELECT coalesce(record::jsonb->>'worker', '') FROM \(eventTable)
                WHERE key = '\(job)' AND record::jsonb->>'reason' = 'completed'
                """)
        }
        return workers
    }

    /// The version numbers registered for `model`, ascending.
    func versionNumbers(of model: String) async throws -> [Int] {
        let store = try PostgresMLPersistence(client: try PostgresBackend.sharedClient(), schema: schema)
        let registry = MLModelRegistry(store: store)
        return try await registry.allVersions(of: model).map { Int($0.version) }.sorted()
    }

    /// Runs `sql` on the shared pool, behind the store's back (damage, say).
    func execute(_ sql: String) async throws {
        _ = try await PostgresBackend.sharedClient().query(PostgresQuery(unsafeSQL: sql))
    }

    private func integer(_ sql: String) async throws -> Int {
        let rows = try await PostgresBackend.sharedClient().query(PostgresQuery(unsafeSQL: sql))
        for try await value in rows.decode(Int64.self) { return Int(value) }
        return 0
    }

    private func strings(_ sql: String) async throws -> [String] {
        let rows = try await PostgresBackend.sharedClient().query(PostgresQuery(unsafeSQL: sql))
        var values: [String] = []
        for try await value in rows.decode(String.self) { values.append(value) }
        return values
    }
}
