import Foundation
import RedML
import Testing

/// Two `redml worker` processes on one SQLite file, one of them frozen with
/// SIGSTOP while it holds jobs: the other takes the jobs over once their
/// leases expire, and the frozen one's writes are refused when it wakes.
@Suite("redml worker processes on one SQLite file")
struct SQLiteZombieProcessTests {
    @Test("a worker frozen mid-job loses its leases to another process, and its late results are refused")
    func frozenWorkerIsFenced() async throws {
        let jobs = 150
        let scratch = try ScratchDirectory()
        let path = scratch.path("queue.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        defer { try? store.close() }
        let queue = MLJobQueue(store: store)
        _ = try await queue.submitJobs((0..<jobs).map { MLJobSubmission(kind: "slow", target: "t\($0)") })

        let slow = "slow=cat >/dev/null; sleep 0.2; echo {}"
        let zombie = try BackgroundRedML(["worker", "--store", path, "--workers", "3", "--exec", slow], in: scratch.url)
        let survivor = try BackgroundRedML(["worker", "--store", path, "--workers", "3", "--exec", slow], in: scratch.url)
        try await waitForFinished(jobs / 5, store: store, workers: [zombie, survivor])
        try await freezeHoldingJobs(zombie, path: path, store: store)
        try await waitForFinished(jobs, store: store, workers: [survivor])
        zombie.signal(SIGCONT)
        // It wakes, finishes its handlers and tries to record them: wait until it says they were refused
        // (a fixed sleep here was both a guess at how long that takes and no check that it happened).
        try await waitUntil("the woken worker to report that its late results were refused") {
            zombie.stderr.contains("lost the lease") || zombie.stderr.contains("could not record the job's outcome")
        }
        for worker in [zombie, survivor] { worker.signal(SIGTERM) }
        for worker in [zombie, survivor] { #expect(try await worker.waitForExit() == 0, "\(worker.stderr)") }

        var completions: [String: [String]] = [:]  // job key → workers of its completed events
        var rescuedFromZombie: Set<String> = []
        let zombieWorker = ":\(zombie.processIdentifier):"
        for (key, value) in try await store.list(namespace: MLNamespace.jobHistory) {
            let job = String(key.prefix { $0 != "/" })
            let event = try JSONDecoder().decode(MLJobEvent.self, from: Data(value.utf8))
            if event.reason == "completed" { completions[job, default: []].append(event.worker ?? "") }
            if event.reason == "lease_expired", event.worker?.contains(zombieWorker) == true { rescuedFromZombie.insert(job) }
        }
        #expect(completions.count == jobs)
        #expect(completions.values.allSatisfy { $0.count == 1 }, "jobs completed more than once")
        #expect(!rescuedFromZombie.isEmpty, "the frozen worker held no job when it was stopped")
        for job in rescuedFromZombie {
            #expect(completions[job]?.allSatisfy { !$0.contains(zombieWorker) } == true, "\(job) completed by the zombie")
        }
        #expect(zombie.stderr.contains("lost the lease") || zombie.stderr.contains("could not record the job's outcome"),
                "\(zombie.stderr.suffix(2_000))")
    }

    /// Stops `worker` with SIGSTOP at a moment when it holds running jobs and
    /// not SQLite's write lock; otherwise lets it go on a little and tries again.
    /// (A process frozen inside a write transaction holds the lock, and every
    /// other process on the file waits for it: a limit of SQLite itself, not
    /// what this test is about.)
    private func freezeHoldingJobs(_ worker: BackgroundRedML, path: String, store: SQLiteMLPersistence) async throws {
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.busyTimeout = .milliseconds(500)
        let probe = try SQLiteMLPersistence(path: path, configuration: configuration)
        defer { try? probe.close() }
        let tag = ":\(worker.processIdentifier):"
        for _ in 0..<100 {
            worker.signal(SIGSTOP)
            try await Task.sleep(for: .milliseconds(200))
            let held = try await store.list(namespace: MLNamespace.jobs).filter { _, value in
                guard let job = try? JSONDecoder().decode(MLJob.self, from: Data(value.utf8)) else { return false }
                return job.status == .running && job.worker?.contains(tag) == true
            }
            let writable = (try? await probe.put(namespace: "test_probe", key: "lock", value: "free")) != nil
            if !held.isEmpty && writable { return }
            worker.signal(SIGCONT)
            try await Task.sleep(for: .milliseconds(150))
        }
        throw RedMLExecutableFailure(description: "worker \(worker.processIdentifier) never held a job without the write lock")
    }

    private func waitForFinished(_ count: Int, store: SQLiteMLPersistence, workers: [BackgroundRedML]) async throws {
        let deadline = ContinuousClock.now + .seconds(180)
        while try await store.list(namespace: MLNamespace.jobFinished).count < count {
            guard ContinuousClock.now < deadline else {
                let logs = workers.map { String($0.stderr.suffix(1_000)) }.joined(separator: "\n---\n")
                throw RedMLExecutableFailure(description: "fewer than \(count) jobs finished in 180 s:\n\(logs)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
