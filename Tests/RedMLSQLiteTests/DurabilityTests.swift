import Foundation
import RedML
import Testing

@Suite("Durability configuration")
struct DurabilityTests {
    @Test("the default is process-crash durability")
    func defaultDurability() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("default.sqlite"))
        #expect(store.configuration.durability == .processCrash)
        #expect(store.configuration.durability.description == "process-crash")
        #expect(SQLiteMLPersistence.Durability.powerLoss != .processCrash)
        try store.close()
    }

    @Test("a power-loss store reports its configuration, and its writes survive close and reopen")
    func powerLossRoundTrip() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("full.sqlite")
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.durability = .powerLoss
        let store = try SQLiteMLPersistence(path: path, configuration: configuration)
        #expect(store.configuration.durability == .powerLoss)
        #expect(store.configuration.durability.description == "power-loss")
        for index in 0..<50 {
            try await store.put(namespace: "durable", key: "k\(index)", value: "\(index)")
        }
        var batch = MLBatch()
        batch.put(namespace: "durable", key: "batched", value: "b")
        try await store.commit(batch)
        try store.close()

        // The file is in WAL mode whatever the durability, and the data is all there,
        // whether reopened with the same setting or the default one.
        #expect(try await SQLiteShell.run(path, "PRAGMA journal_mode") == "wal")
        #expect(try await SQLiteShell.run(path, "SELECT count(*) FROM ml_kv WHERE namespace = 'durable'") == "51")
        for reopenConfiguration in [configuration, SQLiteMLPersistence.Configuration()] {
            let reopened = try SQLiteMLPersistence(path: path, configuration: reopenConfiguration)
            #expect(try await reopened.list(namespace: "durable").count == 51)
            #expect(try await reopened.get(namespace: "durable", key: "k49") == "49")
            #expect(try await reopened.get(namespace: "durable", key: "batched") == "b")
            try reopened.close()
        }
    }
}

extension DurabilityTests {
    static let strace = "/usr/bin/strace"

    /// Runs `durable-put-loop` under strace and returns how many fsync/fdatasync calls it made.
    static func syncCalls(durability: String, puts: Int, in directory: borrowing TemporaryDirectory) async throws -> Int {
        let trace = directory.path("\(durability).trace")
        let agent = try ChildProcess(
            executable: URL(fileURLWithPath: strace),
            arguments: [
                "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", trace,
                try Agent.url().path, "durable-put-loop", directory.path("\(durability).sqlite"), durability, "\(puts)",
            ],
            label: "strace agent durable-put-loop \(durability)")
        defer { agent.kill() }
        try await agent.expectCleanExit(timeout: .seconds(60))
        #expect(agent.acks == Array(0..<puts), "\(agent.diagnostics)")
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        return lines.filter { $0.contains("fsync(") || $0.contains("fdatasync(") }.count
    }

    /// Runs `count` one-row transactions with the sqlite3 shell in WAL mode at
    /// `synchronous`, under strace, and returns how many sync calls it made.
    static func shellSyncCalls(synchronous: String, count: Int, in directory: borrowing TemporaryDirectory) async throws
        -> Int
    {
        let trace = directory.path("shell-\(synchronous).trace")
        let sql =
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = \(synchronous); CREATE TABLE t (x); "
            + String(repeating: "INSERT INTO t VALUES (1); ", count: count)
        let shell = try ChildProcess(
            executable: URL(fileURLWithPath: strace),
            arguments: [
                "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", trace,
                SQLiteShell.executable.path, "-init", "/dev/null", "-batch",
                directory.path("shell-\(synchronous).sqlite"), sql,
            ])
        defer { shell.kill() }
        #expect(try await shell.waitForExit() == .exited(0), "\(shell.diagnostics)")
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        return lines.filter { $0.contains("fsync(") || $0.contains("fdatasync(") }.count
    }

    /// `PRAGMA synchronous` is per connection and the store's connections are
    /// private, so the setting is observed through what it does: with FULL,
    /// SQLite syncs the WAL at every commit; with NORMAL, only at checkpoints.
    /// A control run of the sqlite3 shell shows the measurement tells the two apart.
    @Test(
        "power-loss durability syncs the file at every commit, process-crash does not (counted with strace)",
        .enabled(if: FileManager.default.isExecutableFile(atPath: strace), "needs \(strace)"))
    func syncPerCommit() async throws {
        let directory = try TemporaryDirectory()
        let puts = 200
        // Control: the same measurement on plain SQLite distinguishes FULL from NORMAL.
        let shellFull = try await Self.shellSyncCalls(synchronous: "FULL", count: 100, in: directory)
        let shellNormal = try await Self.shellSyncCalls(synchronous: "NORMAL", count: 100, in: directory)
        try #require(shellFull >= 100 && shellNormal < 25, "strace control: FULL \(shellFull), NORMAL \(shellNormal)")

        let full = try await Self.syncCalls(durability: "power-loss", puts: puts, in: directory)
        let normal = try await Self.syncCalls(durability: "process-crash", puts: puts, in: directory)
        #expect(normal < puts / 4, "process-crash: \(normal) syncs for \(puts) commits")
        // Regression: GRDB sets `synchronous = NORMAL` on the writer when it switches to WAL,
        // after `prepareDatabase`, so .powerLoss commits used to go unsynced.
        #expect(full >= puts, "power-loss: \(full) syncs for \(puts) commits")
    }
}
