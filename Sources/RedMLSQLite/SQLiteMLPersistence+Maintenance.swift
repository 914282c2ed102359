import Foundation
import GRDB
import RedMLPersistence

extension SQLiteMLPersistence {
    /// Writes a consistent copy of the store to a new SQLite file at `destination`
    /// while other connections and processes keep writing.
    ///
    /// It reads one snapshot (WAL mode lets writers go on meanwhile) and copies it
    /// with SQLite's online backup API. An existing file at `destination` is replaced.
    public func backup(to destination: String) async throws {
        let target: DatabaseQueue
        do {
            target = try DatabaseQueue(path: destination)
        } catch let error as DatabaseError {
            // The destination is at fault (a directory, say), not the store being copied.
            throw MLPersistenceError.invalidArgument(
                "cannot write backup file \(destination): \(error.message ?? "\(error.resultCode)") "
                    + "(SQLite code \(error.extendedResultCode.rawValue))")
        }
        do {
            try pool.backup(to: target)
            try target.close()
        } catch {
            try? target.close()
            throw persistenceError(error, store: path)
        }
    }

    /// Replaces the store's whole contents with those of a backup file.
    ///
    /// The backup is checked first, as ``checkIntegrity(verifyBlobs:)`` checks a
    /// store (every page, every record that must be JSON, every blob's chunks
    /// and SHA-256): a file with any problem, or one written by a newer RedML,
    /// is refused and nothing changes. The check runs on a temporary copy, since
    /// opening a store brings its schema up to date and the backup must stay as it is.
    /// Revisions never go backwards: every restored entry gets a revision above
    /// any handed out before, so compare-and-swap callers holding a revision from
    /// before the restore see a conflict, not a false match. Other processes
    /// should be stopped while a store is restored: one that commits while the
    /// copy finishes may see the backup's older counter.
    public func restore(from source: String) async throws {
        guard FileManager.default.fileExists(atPath: source) else {
            throw MLPersistenceError.invalidArgument("backup file \(source) does not exist")
        }
        do {
            var readOnly = GRDB.Configuration()
            readOnly.readonly = true
            let backup: DatabaseQueue
            let version: Int
            let integrity: [String]
            do {
                backup = try DatabaseQueue(path: source, configuration: readOnly)
                (version, integrity) = try await backup.read { db in
                    (try SQLiteSchema.version(db), try String.fetchAll(db, sql: "PRAGMA integrity_check"))
                }
            } catch let error as DatabaseError {
                // The backup is at fault (not a database, say), not the store being restored.
                throw MLPersistenceError.invalidArgument(
                    "backup file \(source) cannot be read as a SQLite database: \(error.message ?? "\(error.resultCode)") "
                        + "(SQLite code \(error.extendedResultCode.rawValue))")
            }
            defer { try? backup.close() }
            guard version <= SQLiteSchema.currentVersion else {
                throw MLPersistenceError.schemaTooNew(store: source, found: version, supported: SQLiteSchema.currentVersion)
            }
            guard version >= 1, integrity == ["ok"] else {
                throw MLPersistenceError.invalidArgument(
                    "backup file \(source) is not a healthy RedML store (schema \(version), integrity: "
                        + integrity.prefix(3).joined(separator: "; ") + ")")
            }
            let problems = try await Self.problems(ofBackup: source)
            guard problems.isEmpty else {
                throw MLPersistenceError.invalidArgument(
                    "backup file \(source) is not a healthy RedML store: \(problems.count) problem(s), "
                        + problems.prefix(3).map { "\($0.code): \($0.message)" }.joined(separator: "; "))
            }
            let path = self.path
            let committer = self.committer
            // One writer access from the copy to the new counter, so that no commit
            // of this process can slip in between and reuse a revision.
            try await pool.writeWithoutTransaction { db in
                let before = try Int64.fetchOne(db, sql: "SELECT revision FROM ml_state WHERE id = 1") ?? 0
                try backup.read { source in try source.backup(to: db) }
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

    /// What ``checkIntegrity(verifyBlobs:)`` finds in the backup at `source`,
    /// checked on a temporary copy (opened as a store, which migrates it).
    private static func problems(ofBackup source: String) async throws -> [MLIntegrityReport.Problem] {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("redml-restore-check-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("backup.sqlite").path
        try FileManager.default.copyItem(atPath: source, toPath: copy)
        if FileManager.default.fileExists(atPath: source + "-wal") {  // a store's own file, not a backup's: its log too
            try FileManager.default.copyItem(atPath: source + "-wal", toPath: copy + "-wal")
        }
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
