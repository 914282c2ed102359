import Foundation
import GRDB
import RedML
import Testing

/// Files that are not stores, and backups cut off part way: commands that read
/// must leave such files as they are, and a backup must never leave half a copy
/// under the name a restore would read.
@Suite("redml store: files that are not stores")
struct StoreFileSafetyTests {
    @Test("commands that only read refuse another application's SQLite database and change nothing in it")
    func foreignDatabaseIsLeftAlone() async throws {
        let scratch = try ScratchDirectory()
        let other = try DatabaseQueue(path: scratch.path("other.sqlite"))
        try await other.write { try $0.execute(sql: "CREATE TABLE t (x); INSERT INTO t VALUES (1)") }
        try other.close()
        for arguments in [["store", "info"], ["store", "check"], ["models", "list"], ["jobs", "list"]] {
            let result = try await RedMLExecutable.run(arguments + ["--store", "other.sqlite"], in: scratch.url)
            expectCleanFailure(result, mentioning: "other.sqlite is not a RedML store")
        }
        let reopened = try DatabaseQueue(path: scratch.path("other.sqlite"))
        defer { try? reopened.close() }
        let (tables, journalMode, rows) = try await reopened.read { db in
            (
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master ORDER BY name"),
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM t")
            )
        }
        #expect(tables == ["t"], "RedML's schema was written into another application's database")
        #expect(journalMode == "delete", "the database was switched to WAL mode")
        #expect(rows == 1)
    }

    @Test("a backup killed part way leaves no file under the backup's name, and an earlier backup there stays whole")
    func killedBackupLeavesTheEarlierOne() async throws {
        let scratch = try ScratchDirectory()
        // Weights big enough that the copy takes a while to write.
        var bytes = Data(count: 96 << 20)
        bytes.withUnsafeMutableBytes { buffer in
            for index in stride(from: 0, to: buffer.count, by: 4096) { buffer[index] = UInt8(truncatingIfNeeded: index >> 12) }
        }
        try bytes.write(to: scratch.url.appendingPathComponent("big.bin"))
        expectSuccess(try await scratch.redml("models", "register", "big", "--weights", "big.bin"))
        expectSuccess(try await scratch.redml("store", "backup", "b.sqlite"))
        expectSuccess(try await scratch.redml("models", "register", "big", "--weights", "big.bin"))

        let backup = try BackgroundRedML(["store", "backup", "b.sqlite"], in: scratch.url)
        var sawPartial = false
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, backup.isRunning {
            let names = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
            if names.contains(where: { $0.hasPrefix(".b.sqlite.partial-") }) {
                sawPartial = true
                backup.signal(SIGKILL)
                break
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        _ = try await backup.waitForExit()
        try #require(sawPartial, "the backup finished before it could be cut off: \(backup.stderr)")

        // b.sqlite is still the first backup, whole: one version, and a restore takes it.
        let check = try await scratch.redml("store", "check", "--store", "b.sqlite")
        expectSuccess(check)
        let versions = try await scratch.redml("models", "versions", "big", "--store", "b.sqlite", "--json")
        expectSuccess(versions)
        let listed = try #require(try versions.jsonObject()["versions"] as? [[String: Any]])
        #expect(listed.count == 1, "\(versions)")
        expectSuccess(try await scratch.redml("store", "restore", "b.sqlite"))
    }

    @Test("a backup file with a hot journal is refused, saying a write to it was cut off")
    func hotJournalBackupIsNamed() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("store", "migrate", "--store", "source.sqlite"))
        // A rollback journal that no process holds: copy the file and its journal in the
        // middle of a transaction whose changes SQLite already spilled into the file.
        let (sourcePath, cutPath) = (scratch.path("source.sqlite"), scratch.path("cut.sqlite"))
        let source = try DatabaseQueue(path: sourcePath)
        try await source.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = DELETE; PRAGMA cache_size = 1")
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "CREATE TABLE filler (x)")
            for _ in 0..<200 {
                try db.execute(sql: "INSERT INTO filler VALUES (randomblob(4000))")
            }
            for suffix in ["", "-journal"] {
                try FileManager.default.copyItem(atPath: sourcePath + suffix, toPath: cutPath + suffix)
            }
            try db.execute(sql: "ROLLBACK")
        }
        try source.close()
        #expect(scratch.exists("cut.sqlite-journal"))
        let restore = try await scratch.redml("store", "restore", "cut.sqlite")
        expectCleanFailure(restore, mentioning: "has a hot journal (cut.sqlite-journal): a write to it was cut off")
    }
}
