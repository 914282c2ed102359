import Foundation
import RedML
import RedMLPostgres
import RedMLTestFixtures
import Testing

/// PostgreSQL servers that crash and come back in the middle of a run, or
/// stop while workers shut down, under real `redml worker` processes.
///
/// It uses a throwaway server of its own (`scripts/postgres` with its own
/// folder and port), since crashing the shared one would fail the tests
/// running beside it.
@Suite("redml workers across a PostgreSQL crash", .enabled(if: !PostgresBackend.isSkipped, "REDML_SKIP_POSTGRES=1"))
struct PostgresRestartTests {
    @Test("the server crashes and restarts mid-run; the workers reconnect and every job completes exactly once",
          .timeLimit(.minutes(10)))
    func workersSurviveServerCrash() async throws {
        let jobs = 400
        try await OwnServer.with(port: "25532", schema: "restart") { server, url in
            try await PostgresMLPersistence.withPersistence(url: url, maximumConnections: 4) { store in
                _ = try await MLJobQueue(store: store).submitJobs((0..<jobs).map {
                    MLJobSubmission(kind: "slow", target: "t\($0)")
                })
            }
            let slow = "slow=cat >/dev/null; sleep 0.05; echo {}"
            let directory = FileManager.default.temporaryDirectory
            let workers = try (0..<2).map { _ in
                try BackgroundRedML(["worker", "--store", url, "--workers", "4", "--exec", slow], in: directory)
            }
            try await waitForFinished(jobs / 4, url: url, workers: workers)
            try await server.run("crash-restart")
            let afterCrash = try await waitForFinished(0, url: url, workers: workers)
            #expect(afterCrash < jobs, "the crash came after the run, not in the middle of it")
            try await waitForFinished(jobs, url: url, workers: workers)
            for worker in workers { worker.signal(SIGTERM) }
            for worker in workers { #expect(try await worker.waitForExit() == 0, "\(worker.stderr.suffix(2_000))") }

            let completions = try await PostgresMLPersistence.withPersistence(url: url, maximumConnections: 2) { store in
                var completions: [String: Int] = [:]
                for record in try await Self.jobs(in: store) {
                    for value in try await store.jobEvents(key: record.key) {
                        let event = try JSONDecoder().decode(MLJobEvent.self, from: Data(value.utf8))
                        if event.reason == "completed" { completions[record.key, default: 0] += 1 }
                    }
                }
                return completions
            }
            #expect(completions.count == jobs, "\(completions.count) of \(jobs) jobs completed")
            #expect(completions.values.allSatisfy { $0 == 1 }, "jobs completed more than once")
            try await server.run("stop")
        }
    }

    @Test("a worker told to stop while PostgreSQL is down stops within the grace period, instead of waiting for the server",
          .timeLimit(.minutes(3)))
    func workerStopsWhileServerIsDown() async throws {
        try await OwnServer.with(port: "25534", schema: "down") { server, url in
            try await PostgresMLPersistence.withPersistence(url: url, maximumConnections: 1) { try await $0.migrate() }
            let worker = try BackgroundRedML(["worker", "--store", url, "--workers", "2"],
                                             in: FileManager.default.temporaryDirectory)
            try await worker.waitForLog("RedML runtime starting")
            try await server.run("stop")
            // Long enough for the claim loop and the maintenance loop to be waiting for a connection.
            try await Task.sleep(for: .seconds(1))
            let stopping = ContinuousClock.now
            let logBefore = worker.stderr.count
            worker.signal(SIGTERM)
            #expect(try await worker.waitForExit(timeout: .seconds(40)) == 0, "\(worker.stderr.suffix(2_000))")
            // The claim waiting for a connection is cancelled when the 10 s grace period ends.
            #expect(ContinuousClock.now - stopping < .seconds(15), "\(worker.stderr.suffix(2_000))")
            // Calls cut short by the shutdown are not failures to report (before it, a call the
            // server's stop cut off may be).
            let logAfter = String(worker.stderr.dropFirst(logBefore))
            #expect(!logAfter.contains("claiming failed"), "\(logAfter)")
        }
    }

    @Test("a worker told to stop while PostgreSQL is down, with a job running, gives up its outcome and exits",
          .timeLimit(.minutes(3)))
    func workerWithARunningJobStopsWhileServerIsDown() async throws {
        try await OwnServer.with(port: "25535", schema: "down_running") { server, url in
            try await PostgresMLPersistence.withPersistence(url: url, maximumConnections: 1) { store in
                _ = try await MLJobQueue(store: store).submit(MLJobSubmission(kind: "slow", target: "t"))
            }
            let worker = try BackgroundRedML(["worker", "--store", url, "--workers", "1", "--exec", "slow=cat >/dev/null; exec sleep 600"],
                                             in: FileManager.default.temporaryDirectory, environment: ["REDML_LOG_LEVEL": "debug"])
            try await worker.waitForLog("command started")
            try await server.run("stop")
            let stopping = ContinuousClock.now
            let logBefore = worker.stderr.count
            worker.signal(SIGTERM)
            // The job is interrupted when the 10 s grace period ends; its outcome, which the store
            // cannot take, is given up 5 s later.
            #expect(try await worker.waitForExit(timeout: .seconds(60)) == 0, "\(worker.stderr.suffix(3_000))")
            let took = ContinuousClock.now - stopping
            let logAfter = String(worker.stderr.dropFirst(logBefore))
            #expect(took > .seconds(10) && took < .seconds(30), "\(took): \(logAfter)")
            #expect(logAfter.contains("giving up outcomes the store did not take in time"), "\(logAfter)")
            #expect(logAfter.contains("could not record the job's outcome"), "\(logAfter)")
            #expect(!logAfter.contains("lease renewal failed; retrying"), "\(logAfter)")
        }
    }

    /// Every job in the store's job table (with `status` only, when given).
    private static func jobs(in store: PostgresMLPersistence, status: String? = nil) async throws -> [MLJobRecord] {
        var records: [MLJobRecord] = []
        try await store.forEachJobPage(MLJobTableQuery(limit: 1_000, status: status)) { records += $0 }
        return records
    }

    /// Waits until `count` jobs are finished, reading through a short-lived pool
    /// each time (the server may be down in between).
    @discardableResult
    private func waitForFinished(_ count: Int, url: String, workers: [BackgroundRedML]) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(240)
        while true {
            let finished = try? await PostgresMLPersistence.withPersistence(url: url, maximumConnections: 1) { store in
                var finished = 0
                for status in ["completed", "failed", "cancelled"] {
                    finished += try await Self.jobs(in: store, status: status).count
                }
                return finished
            }
            if let finished, finished >= count { return finished }
            guard ContinuousClock.now < deadline else {
                let logs = workers.map { String($0.stderr.suffix(1_500)) }.joined(separator: "\n---\n")
                throw RedMLExecutableFailure(description: "\(finished ?? -1) of \(count) jobs finished in 240 s:\n\(logs)")
            }
            try await Task.sleep(for: .milliseconds(300))
        }
    }
}

/// A throwaway server of the test's own, through `scripts/postgres`.
private struct OwnServer {
    let folder: String
    let port: String
    let url: String

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/postgres").path

    /// Runs `body` with a server of its own on `port` and the URL of `schema`
    /// in it; stops the server if `body` throws (`body` stops it otherwise).
    static func with(port: String, schema: String, _ body: (OwnServer, String) async throws -> Void) async throws {
        let server = try await start(port: port)
        do {
            try await body(server, server.url + "&schema=\(schema)")
        } catch {
            _ = try? await server.run("stop")
            throw error
        }
    }

    static func start(port: String) async throws -> OwnServer {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redml-pg-crash-\(UUID().uuidString)").path
        let output = try await run(script, ["start"], folder: folder, port: port)
        guard let start = output.range(of: "POSTGRES_URL='"), let end = output[start.upperBound...].firstIndex(of: "'") else {
            throw RedMLExecutableFailure(description: "scripts/postgres start printed no URL: \(output)")
        }
        return OwnServer(folder: folder, port: port, url: String(output[start.upperBound..<end]))
    }

    /// Runs `scripts/postgres <command>` for this server.
    @discardableResult
    func run(_ command: String) async throws -> String {
        try await Self.run(Self.script, [command], folder: folder, port: port)
    }

    private static func run(_ script: String, _ arguments: [String], folder: String, port: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["REDML_POSTGRES_DIR"] = folder
        // Below Linux's ephemeral range (32768-60999): the workers' own client sockets, reconnecting
        // while the server is down, can never be holding the port it restarts on.
        environment["REDML_POSTGRES_PORT"] = port
        process.environment = environment
        // A file, not a pipe: the server the script starts may inherit the descriptor and keep
        // it open for as long as it runs, so a pipe would never reach its end.
        let outputPath = folder + ".stdout"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)  // the handle below reports a failure
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Polled, so the cooperative pool is not blocked while the server starts.
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let data = try Data(contentsOf: URL(fileURLWithPath: outputPath))
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw RedMLExecutableFailure(
                description: "scripts/postgres \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(text)")
        }
        return text
    }
}

extension BackgroundRedML {
    /// Waits until its log (stderr) contains `text`.
    func waitForLog(_ text: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !stderr.contains(text) {
            guard ContinuousClock.now < deadline else {
                throw RedMLExecutableFailure(description: "'\(text)' not logged in \(timeout): \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
