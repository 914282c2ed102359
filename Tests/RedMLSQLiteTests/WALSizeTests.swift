import Foundation
import RedML
import Testing

@testable import RedMLSQLite

@Suite("Write-ahead log size")
struct WALSizeTests {
    @Test("the WAL starts over at its size limit, so it stays bounded, and every write reads back after a reopen")
    func walStaysBounded() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("wal.sqlite")
        let store = try Self.storeWithOneMiBLimit(at: path)
        // One commit per put; a 3 KB value spills into overflow pages, so each commit logs at
        // least three 4 KiB pages: 72 MiB or more of log in all.
        let puts = 6_000
        let (largestWAL, startedOver) = try await Self.put(puts, into: store, at: path)
        #expect(startedOver, "the WAL never started over (largest: \(largestWAL) bytes)")
        // Past the limit, the next background checkpoint (every 256 commits) asks for a restart, so
        // the file grows to about the limit plus a few such rounds of commits: 6.6 MiB when the test
        // runs alone. Beside the other SQLite tests, whose processes starve the checkpoint's thread,
        // it reached 13, 38 and once 80 MiB until the writer learned to check the size itself when
        // the background checkpoint is late (the next test). Without restarts it would hold
        // everything logged, 72 MiB or more (measured: 104 MiB).
        #expect(largestWAL > 1 << 20)
        #expect(largestWAL < 64 << 20, "the WAL reached \(largestWAL) bytes with a limit of 1 MiB")
        try store.close()

        let reopened = try SQLiteMLPersistence(path: path)
        let all = try await reopened.list(namespace: "wal")
        #expect(all.count == puts)
        #expect(all.allSatisfy { entry in entry.value == "\(Int(entry.key.dropFirst())!)\(Self.value)" })
        try reopened.close()
    }

    @Test("with the background checkpoints held back, as a starved thread holds them, the writer keeps the WAL bounded")
    func walStaysBoundedWhenBackgroundCheckpointsAreLate() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("late.sqlite")
        let store = try Self.storeWithOneMiBLimit(at: path)
        let checkpointer = store.committer.checkpointer
        checkpointer.suspendForTesting()
        // Four pages or so per commit: without a checkpoint the log would hold 60 MiB or more.
        let puts = 4_000
        let (largestWAL, startedOver) = try await {
            defer { checkpointer.resumeForTesting() }  // before closing, which waits for the checkpoint queue
            return try await Self.put(puts, into: store, at: path)
        }()
        #expect(startedOver, "the WAL never started over (largest: \(largestWAL) bytes)")
        // The writer looks every `lateAfter` (1,024) commits: about 16 MiB of log between two looks.
        #expect(largestWAL < 32 << 20, "the WAL reached \(largestWAL) bytes with a limit of 1 MiB")
        try store.close()

        let reopened = try SQLiteMLPersistence(path: path)
        #expect(try await reopened.list(namespace: "wal").count == puts)
        try reopened.close()
    }

    @Test("a size limit below one byte is refused, naming the setting")
    func nonPositiveLimitIsRefused() throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.walSizeLimit = 0
        #expect {
            try SQLiteMLPersistence(path: directory.path("bad.sqlite"), configuration: configuration)
        } throws: { error in
            "\(error)".contains("walSizeLimit")
        }
    }

    /// A store at `path` whose WAL starts over past 1 MiB.
    static func storeWithOneMiBLimit(at path: String) throws -> SQLiteMLPersistence {
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.walSizeLimit = 1 << 20
        return try SQLiteMLPersistence(path: path, configuration: configuration)
    }

    /// A 3 KB value: it spills into overflow pages, so each commit logs several pages.
    static let value = String(repeating: "v", count: 3_000)

    /// Puts `count` entries, one commit each, into the store at `path`; returns the largest
    /// size its WAL was seen at (every 50 commits) and whether the WAL started over meanwhile.
    static func put(_ count: Int, into store: SQLiteMLPersistence, at path: String) async throws -> (largest: Int, startedOver: Bool) {
        var largest = 0
        var startedOver = false
        var last = 0
        for index in 0..<count {
            try await store.put(namespace: "wal", key: String(format: "k%05d", index), value: "\(index)\(value)")
            if index % 50 == 49 {
                let size = Self.size(of: path + "-wal")
                // The file is cut back to the limit when the log starts over from its beginning.
                if size < last { startedOver = true }
                largest = max(largest, size)
                last = size
            }
        }
        return (largest, startedOver)
    }

    static func size(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }
}
