import Foundation
import RedML
import Synchronization
import Testing

@Suite("Backup and restore")
struct BackupRestoreTests {
    /// Every entry of every namespace the tests use, as `namespace/key=value@revision`.
    /// Every entry as `namespace/key=value`; revisions are compared separately,
    /// since a restore lifts them above the target's own.
    static func snapshot(_ store: SQLiteMLPersistence) async throws -> [String] {
        var rows: [String] = []
        for namespace in ["seq", "other", MLNamespace.jobs] {
            rows += try await StoreHelpers.entries(store, namespace).map { "\(namespace)/\($0.key)=\($0.value)" }
        }
        return rows
    }

    static func revision(_ store: SQLiteMLPersistence) async throws -> Int64 {
        try await store.commit(MLBatch()).rawValue  // an empty batch reports the current revision
    }

    static func key(_ index: Int) -> String {
        let digits = String(index)
        return "k" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    @Test("backup while a writer commits gives a healthy, consistent prefix; restore replaces contents")
    func backupWhileWriting() async throws {
        let directory = try TemporaryDirectory()
        let source = try SQLiteMLPersistence(path: directory.path("live.sqlite"))
        let committed = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        // A sequential writer: put k000000, k000001, ... one commit each.
        let writer = Task {
            var index = 0
            while !stop.load(ordering: .relaxed) {
                try await source.put(namespace: "seq", key: Self.key(index), value: #"{"i":\#(index)}"#)
                index += 1
                committed.store(index, ordering: .relaxed)
                // A put that leads its own group commit never suspends; without this the loop
                // would hold a cooperative thread until stopped (see ConcurrencyTests).
                await Task.yield()
            }
        }
        defer { writer.cancel() }
        while committed.load(ordering: .relaxed) < 500 { try await Task.sleep(for: .milliseconds(2)) }

        let backupPath = directory.path("backup.sqlite")
        let before = committed.load(ordering: .relaxed)
        try await source.backup(to: backupPath)
        let after = committed.load(ordering: .relaxed)
        // Let the writer go on a little after the backup, then stop it.
        while committed.load(ordering: .relaxed) < after + 200 { try await Task.sleep(for: .milliseconds(2)) }
        stop.store(true, ordering: .relaxed)
        try await writer.value
        let total = committed.load(ordering: .relaxed)

        let copy = try SQLiteMLPersistence(path: backupPath)
        let copied = try await StoreHelpers.entries(copy, "seq")
        let count = copied.count
        #expect(copied.map(\.key) == (0..<count).map(Self.key), "the backup is not a prefix of the writes")
        #expect(copied.map(\.value) == (0..<count).map { #"{"i":\#($0)}"# })
        // The snapshot was taken between the calls' start and end. The writer counts a put
        // after it returns, so one put may be committed (and in the backup) but not yet counted.
        #expect(count >= before && count <= after + 1, "backup holds \(count); \(before) before, \(after) after")
        #expect(count < total)
        try await StoreHelpers.expectHealthy(copy)
        // A backup carries the revision counter with it.
        let copyRevision = try await Self.revision(copy)
        #expect(copyRevision >= copied.map(\.revision.rawValue).max() ?? 0)
        let expectedSnapshot = try await Self.snapshot(copy)
        try copy.close()

        // Restore into another store that has other contents.
        let target = try SQLiteMLPersistence(path: directory.path("target.sqlite"))
        for index in 0..<(count + 50) {
            try await target.put(namespace: "other", key: "o\(index)", value: "\(index)")
        }
        let revisionBefore = try await Self.revision(target)
        try await target.restore(from: backupPath)
        #expect(try await Self.snapshot(target) == expectedSnapshot)
        let restored = try await StoreHelpers.entries(target, "seq")
        #expect(restored.allSatisfy { $0.revision.rawValue > revisionBefore }, "a restored revision is not above \(revisionBefore)")
        #expect(try await target.get(namespace: "other", key: "o0") == nil)
        let revisionAfter = try await Self.revision(target)
        #expect(revisionAfter > revisionBefore)
        #expect(revisionAfter > copyRevision)
        // A write after the restore carries a revision above every restored one, and above the
        // counter the restore left: reusing a restored revision would let a stale compare-and-swap match.
        let highestRestored = try #require(restored.map(\.revision.rawValue).max())
        try await target.put(namespace: "seq", key: "after", value: "{}")
        let written = try #require(try await target.entry(namespace: "seq", key: "after"))
        #expect(written.revision.rawValue > highestRestored, "\(written.revision) reuses a restored revision (up to \(highestRestored))")
        #expect(written.revision.rawValue > revisionAfter, "\(written.revision) is not above the counter \(revisionAfter)")
        try await StoreHelpers.expectHealthy(target)
        try target.close()

        // A fresh open of the restored file sees the same thing.
        let reopened = try SQLiteMLPersistence(path: directory.path("target.sqlite"))
        #expect(try await StoreHelpers.entries(reopened, "seq").count == count + 1)
        try reopened.close()
        try source.close()
    }

    @Test("restore refuses a missing file, a garbage file and a non-RedML database, changing nothing")
    func restoreRefusesBadSources() async throws {
        let directory = try TemporaryDirectory()
        let target = try SQLiteMLPersistence(path: directory.path("target.sqlite"))
        try await target.put(namespace: MLNamespace.jobs, key: "j1", value: #"{"status":"queued"}"#)
        try await target.put(namespace: "other", key: "x", value: "1")
        let snapshot = try await Self.snapshot(target)
        let revision = try await Self.revision(target)

        let missing = directory.path("missing.sqlite")
        let missingError = try await #require(throws: MLPersistenceError.self) {
            try await target.restore(from: missing)
        }
        #expect(missingError.code == "invalid_argument", "\(missingError)")
        #expect(missingError.description.contains(missing))
        #expect(!FileManager.default.fileExists(atPath: missing), "restore created the missing file")

        let garbage = directory.path("garbage.sqlite")
        let bytes = Data((0..<8192).map { UInt8(truncatingIfNeeded: ($0 &* 7919) ^ ($0 >> 3)) })
        try bytes.write(to: URL(fileURLWithPath: garbage))
        let garbageError = try await #require(throws: MLPersistenceError.self) {
            try await target.restore(from: garbage)
        }
        #expect(["invalid_argument", "backend"].contains(garbageError.code), "\(garbageError)")
        #expect(garbageError.description.contains(garbage), "the backup, not the store, is at fault: \(garbageError)")

        let foreign = directory.path("foreign.sqlite")
        try await SQLiteShell.run(foreign, "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        let foreignError = try await #require(throws: MLPersistenceError.self) {
            try await target.restore(from: foreign)
        }
        #expect(foreignError.code == "invalid_argument", "\(foreignError)")

        #expect(try await Self.snapshot(target) == snapshot)
        #expect(try await Self.revision(target) == revision)
        try await StoreHelpers.expectHealthy(target)
        try await StoreHelpers.expectWritable(target)
        try target.close()
    }

    @Test("restore refuses a backup that store check would fault: a record that is not JSON, a blob whose bytes changed")
    func restoreRefusesBackupsWithDamagedRecordsOrBlobs() async throws {
        let directory = try TemporaryDirectory()
        let source = try SQLiteMLPersistence(path: directory.path("source.sqlite"))
        try await MLModelRegistry(store: source).register(MLRegistration(model: "spam"), weights: Data("weights".utf8))
        try await source.put(namespace: MLNamespace.jobs, key: "j1", value: #"{"status":"queued"}"#)
        let healthy = directory.path("healthy.sqlite")
        try await source.backup(to: healthy)
        try source.close()
        let badRecord = directory.path("bad-record.sqlite")
        let badBlob = directory.path("bad-blob.sqlite")
        try FileManager.default.copyItem(atPath: healthy, toPath: badRecord)
        try FileManager.default.copyItem(atPath: healthy, toPath: badBlob)
        try await SQLiteShell.run(badRecord, "UPDATE ml_kv SET value = 'not json' WHERE namespace = 'jobs';")
        try await SQLiteShell.run(badBlob, "UPDATE ml_blob_chunks SET data = X'00' || substr(data, 2);")

        let target = try SQLiteMLPersistence(path: directory.path("target.sqlite"))
        try await target.put(namespace: "other", key: "x", value: "1")
        let snapshot = try await Self.snapshot(target)
        for (backup, problem) in [(badRecord, "corrupt_value"), (badBlob, "blob_mismatch")] {
            let error = try await #require(throws: MLPersistenceError.self) { try await target.restore(from: backup) }
            #expect(error.code == "invalid_argument", "\(error)")
            #expect(error.description.contains(problem), "\(error)")
            #expect(error.description.contains(backup), "\(error)")
            #expect(try await Self.snapshot(target) == snapshot)
        }
        let healthyBytes = try Data(contentsOf: URL(fileURLWithPath: healthy))
        try await target.restore(from: healthy)
        // The check ran on a copy: the backup file itself is as it was, and no copy is left beside the store.
        #expect(try Data(contentsOf: URL(fileURLWithPath: healthy)) == healthyBytes)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path("."))
            .filter { $0.hasPrefix(".redml-restore-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(try await target.get(namespace: MLNamespace.jobs, key: "j1") == #"{"status":"queued"}"#)
        try await StoreHelpers.expectHealthy(target)
        try target.close()
    }

    @Test("backup replaces an existing file at the destination")
    func backupReplacesDestination() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("store.sqlite"))
        let destination = directory.path("backup.sqlite")
        try await store.put(namespace: "other", key: "first", value: "1")
        try await store.backup(to: destination)
        try await store.delete(namespace: "other", key: "first")
        try await store.put(namespace: "other", key: "second", value: "2")
        try await store.backup(to: destination)
        let copy = try SQLiteMLPersistence(path: destination)
        #expect(try await copy.list(namespace: "other").map(\.key) == ["second"])
        try copy.close()
        try store.close()
    }

    @Test("after restoring another store's backup, a compare-and-swap with a pre-restore revision conflicts")
    func noFalseMatchAfterRestore() async throws {
        let directory = try TemporaryDirectory()
        let mine = try SQLiteMLPersistence(path: directory.path("mine.sqlite"))
        let theirs = try SQLiteMLPersistence(path: directory.path("theirs.sqlite"))
        try await mine.put(namespace: MLNamespace.jobs, key: "j1", value: #"{"owner":"mine"}"#)
        try await theirs.put(namespace: MLNamespace.jobs, key: "j1", value: #"{"owner":"theirs"}"#)
        try await theirs.backup(to: directory.path("theirs.backup"))
        let seen = try #require(try await mine.entry(namespace: MLNamespace.jobs, key: "j1"))

        try await mine.restore(from: directory.path("theirs.backup"))
        #expect(try await mine.get(namespace: MLNamespace.jobs, key: "j1") == #"{"owner":"theirs"}"#)
        var batch = MLBatch()
        batch.put(namespace: MLNamespace.jobs, key: "j1", value: #"{"owner":"stale writer"}"#, if: .revision(seen.revision))
        let outcome: MLPersistenceError? = await {
            do {
                try await mine.commit(batch)
                return nil
            } catch let error as MLPersistenceError {
                return error
            } catch {
                return .backend("\(error)")
            }
        }()
        // Regression: restored entries used to keep the backup's revisions, so this stale
        // compare-and-swap matched j1 (r1 before and after) and was applied.
        #expect(outcome?.code == "conflict", "the stale compare-and-swap was applied")
        try mine.close()
        try theirs.close()
    }

    @Test("revisions never go backwards while restore runs alongside a writer")
    func revisionsMonotonicAcrossRestore() async throws {
        let directory = try TemporaryDirectory()
        let source = try SQLiteMLPersistence(path: directory.path("source.sqlite"))
        try await source.put(namespace: "seq", key: "restored", value: "{}")
        try await source.backup(to: directory.path("source.backup"))
        try source.close()
        let target = try SQLiteMLPersistence(path: directory.path("target.sqlite"))
        for index in 0..<500 {
            try await target.put(namespace: "other", key: "\(index)", value: "{}")
        }
        let stop = Atomic<Bool>(false)
        // A sequential writer; each commit must return a higher revision than the one before.
        let writer = Task {
            var revisions: [Int64] = []
            while !stop.load(ordering: .relaxed) {
                var batch = MLBatch()
                batch.put(namespace: "w", key: "w", value: "{}")
                revisions.append(try await target.commit(batch).rawValue)
                await Task.yield()
            }
            return revisions
        }
        defer { writer.cancel() }
        for _ in 0..<40 {
            try await Task.sleep(for: .milliseconds(3))
            try await target.restore(from: directory.path("source.backup"))
        }
        stop.store(true, ordering: .relaxed)
        let revisions = try await writer.value
        #expect(revisions.count > 20)
        let drops = zip(revisions, revisions.dropFirst()).filter { $0.1 <= $0.0 }
        // Regression: restore used to copy and raise the counter in two writes, and a commit
        // landing in between got a revision from the backup's lower counter (527 → 2).
        #expect(drops.isEmpty, "revision went backwards \(drops.count) times, e.g. \(drops.prefix(3))")
        try await StoreHelpers.expectHealthy(target)
        try target.close()
    }
}
