import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import RedMLPersistence

extension SQLiteMLPersistence {
    /// Writes a consistent copy of the store to a new SQLite file at `destination`
    /// while other connections and processes keep writing.
    ///
    /// It reads one snapshot (WAL mode lets writers go on meanwhile) and copies it
    /// with SQLite's online backup API into a hidden file beside `destination`,
    /// which is renamed to `destination` once it is complete. So a backup cut off
    /// part way (a full disk, `kill -9`) never leaves a partial file under that
    /// name, and an existing file there is replaced only by a finished copy.
    public func backup(to destination: String) async throws {
        let target = URL(fileURLWithPath: destination)
        let partial = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).partial-\(UUID().uuidString)").path
        defer { Self.remove(partial, withSuffixes: ["", "-journal", "-wal", "-shm"]) }
        let copy: DatabaseQueue
        do {
            copy = try DatabaseQueue(path: partial)
        } catch let error as DatabaseError {
            // The destination is at fault (a directory, say), not the store being copied.
            throw MLPersistenceError.invalidArgument("cannot write backup file \(destination): \(describe(error))")
        }
        do {
            try pool.backup(to: copy)
            try copy.close()
        } catch {
            try? copy.close()
            throw persistenceError(error, store: path)
        }
        // A log left beside an earlier file of that name would be read into the new one.
        Self.remove(destination, withSuffixes: ["-journal", "-wal", "-shm"])
        guard rename(partial, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            throw MLPersistenceError.invalidArgument("cannot move the finished backup into place at \(destination): \(reason)")
        }
    }

    /// Removes `path` followed by each suffix, ignoring files that are not there.
    private static func remove(_ path: String, withSuffixes suffixes: [String]) {
        for suffix in suffixes {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }
    }

    /// Replaces the store's whole contents with those of a backup file.
    ///
    /// The backup is checked first, as ``checkIntegrity(verifyBlobs:)`` checks a
    /// store (every page, every record that must be JSON, every blob's chunks
    /// and SHA-256): a file with any problem, or one written by a newer RedML,
    /// is refused and nothing changes. The check runs on a copy beside the
    /// store (opening a store brings its schema up to date, and the backup must
    /// stay as it is), and that checked copy is what is restored, so a backup
    /// file that changes meanwhile cannot slip in unchecked.
    /// Revisions never go backwards: every restored entry gets a revision above
    /// any handed out before, so compare-and-swap callers holding a revision from
    /// before the restore see a conflict, not a false match. Other processes
    /// should be stopped while a store is restored: one that commits while the
    /// copy finishes may see the backup's older counter.
    public func restore(from source: String) async throws {
        guard FileManager.default.fileExists(atPath: source) else {
            throw MLPersistenceError.invalidArgument("backup file \(source) does not exist")
        }
        // Beside the store rather than in the temporary folder, which is often a small tmpfs.
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
            .appendingPathComponent(".redml-restore-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try Self.checkReadable(backup: source)
            let copy = try Self.copy(backup: source, into: folder)
            let problems = try await Self.problems(of: copy)
            guard problems.isEmpty else {
                throw MLPersistenceError.invalidArgument(
                    "backup file \(source) is not a healthy RedML store: \(problems.count) problem(s), "
                        + problems.prefix(3).map { "\($0.code): \($0.message)" }.joined(separator: "; "))
            }
            var readOnly = GRDB.Configuration()
            readOnly.readonly = true
            let checked = try DatabaseQueue(path: copy, configuration: readOnly)
            defer { try? checked.close() }
            let path = self.path
            let committer = self.committer
            // One writer access from the copy to the new counter, so that no commit
            // of this process can slip in between and reuse a revision.
            try await pool.writeWithoutTransaction { db in
                let before = try Int64.fetchOne(db, sql: "SELECT revision FROM ml_state WHERE id = 1") ?? 0
                try checked.read { source in try source.backup(to: db) }
                try SQLiteSchema.migrate(db, storeName: path)
                // Lift every restored revision above every revision handed out before
                // the restore, so a compare-and-swap that holds an old revision cannot
                // match a restored entry by accident.
                try db.inTransaction(.immediate) {
                    try db.execute(sql: "UPDATE ml_kv SET revision = revision + ?", arguments: [before])
                    try db.execute(
                        sql: "UPDATE ml_state SET revision = revision + ? + 1 WHERE id = 1", arguments: [before])
                    return .commit
                }
                // Revisions reserved before the restore lie below the restored ones.
                committer.discardRevisionBlock()
            }
        } catch {
            throw persistenceError(error, store: path)
        }
    }

    /// Refuses, naming the backup, a file that is not a SQLite database, fails
    /// SQLite's page check, or was written by a newer RedML.
    private static func checkReadable(backup source: String) throws {
        var readOnly = GRDB.Configuration()
        readOnly.readonly = true
        let version: Int
        let integrity: [String]
        do {
            let backup = try DatabaseQueue(path: source, configuration: readOnly)
            defer { try? backup.close() }
            (version, integrity) = try backup.read { db in
                (try SQLiteSchema.version(db), try String.fetchAll(db, sql: "PRAGMA integrity_check"))
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_READONLY_ROLLBACK {
            throw MLPersistenceError.invalidArgument(
                "backup file \(source) has a hot journal (\(source)-journal): a write to it was cut off before "
                    + "it finished, so it is not a complete backup")
        } catch let error as DatabaseError {
            // The backup is at fault (not a database, say), not the store being restored.
            throw MLPersistenceError.invalidArgument(
                "backup file \(source) cannot be read as a SQLite database: \(describe(error))")
        }
        guard version <= SQLiteSchema.currentVersion else {
            throw MLPersistenceError.schemaTooNew(store: source, found: version, supported: SQLiteSchema.currentVersion)
        }
        guard version >= 1, integrity == ["ok"] else {
            throw MLPersistenceError.invalidArgument(
                "backup file \(source) is not a healthy RedML store (schema \(version), integrity: "
                    + integrity.prefix(3).joined(separator: "; ") + ")")
        }
    }

    /// Copies the backup (and its log, if it is a live store's own file) into
    /// `folder`; returns the copy's path.
    private static func copy(backup source: String, into folder: URL) throws -> String {
        let copy = folder.appendingPathComponent("backup.sqlite").path
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source, toPath: copy)
            if FileManager.default.fileExists(atPath: source + "-wal") {
                try FileManager.default.copyItem(atPath: source + "-wal", toPath: copy + "-wal")
            }
        } catch {
            throw MLPersistenceError.invalidArgument(
                "cannot copy backup file \(source) into \(folder.path) to check it: \(error.localizedDescription)")
        }
        return copy
    }

    /// What ``checkIntegrity(verifyBlobs:)`` finds in the store file at `copy`
    /// (opened as a store, which migrates it).
    private static func problems(of copy: String) async throws -> [MLIntegrityReport.Problem] {
        let store = try SQLiteMLPersistence(path: copy)
        do {
            let report = try await store.checkIntegrity(verifyBlobs: true)
            try store.close()
            return report.problems
        } catch {
            try? store.close()
            throw error
        }
    }

    /// Checks the file and the store's own invariants, and reports what it finds.
    ///
    /// - SQLite's `PRAGMA integrity_check` over every page;
    /// - every value in the `models`, `model_versions` and `jobs` namespaces is JSON;
    /// - every committed blob has all its chunks, and, when `verifyBlobs` is set,
    ///   its bytes still hash to its SHA-256 (this reads every blob).
    public func checkIntegrity(verifyBlobs: Bool = true) async throws -> MLIntegrityReport {
        var problems: [MLIntegrityReport.Problem] = []
        let (storage, entries, corrupt, blobs) = try read { db in
            let storage = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            let entries = try Int.fetchOne(db, sql: "SELECT count(*) FROM ml_kv") ?? 0
            let corrupt = try Row.fetchAll(
                db,
                sql: """
                    SELECT namespace, key FROM ml_kv
                    WHERE namespace IN ('models', 'model_versions', 'jobs') AND NOT json_valid(value)
                    ORDER BY namespace, key
                    """
            ).map { "\($0[0] as String)/\($0[1] as String)" }
            let blobs = try Row.fetchAll(
                db,
                sql: """
                    SELECT b.sha256, b.chunk_count, count(c.seq) FROM ml_blobs b
                    LEFT JOIN ml_blob_chunks c ON c.upload_id = b.upload_id
                    GROUP BY b.sha256 ORDER BY b.sha256
                    """
            ).map { (sha256: $0[0] as String, expected: $0[1] as Int, found: $0[2] as Int) }
            return (storage, entries, corrupt, blobs)
        }
        if storage != ["ok"] {
            problems += storage.map { .init(code: "storage", message: $0) }
        }
        problems += corrupt.map { .init(code: "corrupt_value", message: "\($0): value is not valid JSON") }
        for blob in blobs {
            guard blob.found == blob.expected else {
                problems.append(
                    .init(
                        code: "blob_missing_chunks",
                        message: "blob \(blob.sha256): \(blob.found) of \(blob.expected) chunks present"))
                continue
            }
            guard verifyBlobs else { continue }
            do {
                for try await _ in try await readBlob(sha256: blob.sha256) {}
            } catch let error as MLPersistenceError {
                problems.append(.init(code: "blob_mismatch", message: error.description))
            }
        }
        return MLIntegrityReport(entriesChecked: entries, blobsChecked: blobs.count, problems: problems)
    }
}
