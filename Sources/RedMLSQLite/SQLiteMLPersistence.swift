import Foundation
import GRDB
import Logging
import RedMLPersistence

/// The durable embedded backend: every namespace, entry and blob in one SQLite
/// file, through GRDB.
///
/// - The file is in WAL mode: readers never block writers, and several
///   processes can open the same file at once. A write that finds another
///   process holding the write lock waits up to ``Configuration/busyTimeout``.
/// - A write returns only once its transaction has committed; by default it
///   then survives `kill -9` of the process (see ``Durability``).
/// - Concurrent writes are committed in groups (see the README), so many
///   callers share the cost of one commit.
/// - The schema is versioned by append-only migrations; a file written by a
///   newer RedML is refused with ``MLPersistenceError/schemaTooNew(store:found:supported:)``.
///
/// ```swift
/// let store = try SQLiteMLPersistence(path: "redml.sqlite")
/// try await store.put(namespace: MLNamespace.jobs, key: MLKey.job(id), value: json)
/// ```
public final class SQLiteMLPersistence: MLStore, MLSerialWriter {
    /// The database file's path.
    public let path: String
    /// The settings the store was opened with.
    public let configuration: Configuration
    let pool: DatabasePool
    let committer: GroupCommitter

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// - Throws: ``MLPersistenceError/schemaTooNew(store:found:supported:)`` for a
    ///   file written by a newer RedML, ``MLPersistenceError/backend(_:)`` when the
    ///   file cannot be opened.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        self.path = path
        self.configuration = configuration
        guard configuration.blobChunkSize > 0, configuration.maximumGroupSize > 0,
            configuration.maximumReaderCount > 0, configuration.walSizeLimit > 0
        else {
            throw MLPersistenceError.invalidArgument(
                "blobChunkSize, maximumGroupSize, maximumReaderCount and walSizeLimit must be positive")
        }
        var grdb = GRDB.Configuration()
        grdb.label = "redml"
        grdb.busyMode = .timeout(Self.seconds(configuration.busyTimeout))
        grdb.maximumReaderCount = configuration.maximumReaderCount
        let synchronous = configuration.durability.synchronous
        grdb.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        if !configuration.createsStore {
            try Self.requireStore(at: path, busyTimeout: configuration.busyTimeout)
        }
        pool = try Self.open(path: path, configuration: grdb, patience: configuration.busyTimeout)
        do {
            let checkpointer = try BackgroundCheckpointer(
                path: path, configuration: grdb, interval: 256, walLimit: configuration.walSizeLimit)
            // GRDB sets `synchronous = NORMAL` on the writer when it switches to WAL,
            // after `prepareDatabase` ran, so the durability setting is applied again here.
            try pool.writeWithoutTransaction { db in
                // When the WAL starts over, SQLite cuts the file back to this size.
                try db.execute(sql: """
                    PRAGMA synchronous = \(synchronous); PRAGMA wal_autocheckpoint = 0;
                    PRAGMA journal_size_limit = \(configuration.walSizeLimit)
                    """)
            }
            committer = GroupCommitter(
                pool: pool, checkpointer: checkpointer, maximumGroupSize: configuration.maximumGroupSize)
        } catch {
            throw persistenceError(error, store: path)
        }
    }

    /// The chunk size blobs are stored in.
    public var blobChunkSize: Int { configuration.blobChunkSize }

    /// The schema version this build of RedML writes.
    public static var schemaVersion: Int { SQLiteSchema.currentVersion }

    /// Closes every connection. Later calls fail with a backend error.
    public func close() throws {
        do {
            try committer.checkpointer.close()
            // Empty the WAL first, so the next open need not read it back (best
            // effort: another process may still be reading it).
            _ = try? pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
            try pool.close()
        } catch {
            throw persistenceError(error, store: path)
        }
    }

    // MARK: The seed's contract

    public func put(namespace: String, key: String, value: String) async throws {
        try MLInput.check(namespace: namespace, key: key)
        try MLInput.check(value, "value")
        try await write(canFailAlone: false) { context in
            try SQLiteStatements.upsert(context.db, namespace, key, value, revision: context.nextRevision())
        }
    }

    public func get(namespace: String, key: String) async throws -> String? {
        try MLInput.check(namespace: namespace, key: key)
        return try read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT CAST(value AS BLOB) FROM ml_kv WHERE namespace = ? AND key = ?")
            guard let row = try Row.fetchOne(statement, arguments: [namespace, key]) else { return nil }
            return try Self.text(row[0], namespace: namespace, key: key)
        }
    }

    public func delete(namespace: String, key: String) async throws {
        try MLInput.check(namespace: namespace, key: key)
        try await write(canFailAlone: false) { context in
            try SQLiteStatements.delete(context.db, namespace, key)
        }
    }

    public func list(namespace: String) async throws -> [(key: String, value: String)] {
        try MLInput.check(namespace, "namespace")
        return try read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT key, CAST(value AS BLOB) FROM ml_kv WHERE namespace = ?")
            let rows = try Row.fetchCursor(statement, arguments: [namespace])
            var entries: [(key: String, value: String)] = []
            while let row = try rows.next() {
                let key: String = row[0]
                guard let value = textOrReport(row[1], namespace: namespace, key: key) else { continue }
                entries.append((key, value))
            }
            return entries
        }
    }

    // MARK: Entries, batches and pages

    public func entry(namespace: String, key: String) async throws -> MLEntry? {
        try MLInput.check(namespace: namespace, key: key)
        return try read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT CAST(value AS BLOB), revision FROM ml_kv WHERE namespace = ? AND key = ?")
            guard let row = try Row.fetchOne(statement, arguments: [namespace, key]) else { return nil }
            let value = try Self.text(row[0], namespace: namespace, key: key)
            return MLEntry(key: key, value: value, revision: MLRevision(rawValue: row[1]))
        }
    }

    @discardableResult
    public func commit(_ batch: MLBatch) async throws -> MLRevision {
        try MLInput.check(batch)
        if batch.isEmpty {
            return try read { db in
                MLRevision(rawValue: try SQLiteStatements.currentRevision(db))
            }
        }
        let revision = try await write { context in
            try SQLiteBatch.apply(batch, in: &context)
        }
        return MLRevision(rawValue: revision)
    }

    public func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage {
        try request.validate()
        try MLInput.check(namespace: namespace, request)
        let query = SQLitePageQuery(namespace: namespace, request: request)
        return try read { db in
            // The scan is lazy: it stops at the first readable row past the limit,
            // which tells whether another page follows. Corrupt rows are skipped.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: query.sql), arguments: query.arguments)
            var entries: [MLEntry] = []
            var more = false
            while let row = try rows.next() {
                let key: String = row[0]
                guard let value = textOrReport(row[1], namespace: namespace, key: key) else { continue }
                if entries.count == request.limit {
                    more = true
                    break
                }
                entries.append(MLEntry(key: key, value: value, revision: MLRevision(rawValue: row[2])))
            }
            return MLPage(entries: entries, nextCursor: more ? entries.last?.key : nil)
        }
    }

    // MARK: Access

    /// Runs a read on a reader connection. A single statement needs no
    /// transaction to see a consistent state, so none is opened.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.unsafeRead(body)
        } catch {
            throw persistenceError(error, store: path)
        }
    }

    /// Runs a write in a group-committed transaction.
    func write<T: Sendable>(
        canFailAlone: Bool = true, _ body: @escaping @Sendable (inout SQLiteWriteContext) throws -> T
    ) async throws -> T {
        do {
            return try await committer.write(canFailAlone: canFailAlone, body)
        } catch {
            throw persistenceError(error, store: path)
        }
    }

    /// Decodes a value read as `CAST(value AS BLOB)`: the exact stored bytes,
    /// which must be valid UTF-8. (Reading it as text would silently replace
    /// invalid bytes with U+FFFD.)
    static func text(_ value: DatabaseValue, namespace: String, key: String) throws(MLPersistenceError) -> String {
        let text: String?
        switch value.storage {
        case .blob(let bytes): text = String(validating: bytes, as: UTF8.self)
        case .string(let string): text = string
        default: text = nil
        }
        guard let text else {
            throw MLPersistenceError.corruptValue(
                namespace: namespace, key: key, reason: "stored value is not UTF-8 text")
        }
        return text
    }

    /// Reads a value for a listing; a corrupt one is logged and skipped, so
    /// that one bad record does not hide the others.
    func textOrReport(_ value: DatabaseValue, namespace: String, key: String) -> String? {
        do {
            return try Self.text(value, namespace: namespace, key: key)
        } catch {
            configuration.logger.warning(
                "skipping corrupt record", metadata: ["namespace": "\(namespace)", "key": "\(key)"])
            return nil
        }
    }

    /// Refuses, changing nothing, a path that holds no RedML store: opening a
    /// pool would switch another application's database to WAL mode, and
    /// migrating would add RedML's tables to it.
    private static func requireStore(at path: String, busyTimeout: Duration) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw MLPersistenceError.invalidArgument("no store at \(path): the file does not exist")
        }
        let version: Int
        do {
            // Read/write, so that SQLite can roll back a hot journal as any reader would.
            var grdb = GRDB.Configuration()
            grdb.busyMode = .timeout(seconds(busyTimeout))
            let database = try DatabaseQueue(path: path, configuration: grdb)
            defer { try? database.close() }
            version = try database.read { try SQLiteSchema.version($0) }
        } catch {
            throw persistenceError(error, store: path)
        }
        guard version > 0 else {
            throw MLPersistenceError.invalidArgument(
                "\(path) is not a RedML store: it is a SQLite database without RedML's schema (another "
                    + "application's database, or a copy cut off before it finished); nothing was changed")
        }
    }

    /// Opens the pool and migrates, retrying while another process holds a lock
    /// that SQLite's busy handler does not wait for: switching a new file to WAL
    /// mode, or recovering the WAL after a crash, can fail at once with SQLITE_BUSY.
    private static func open(path: String, configuration: GRDB.Configuration, patience: Duration) throws
        -> DatabasePool
    {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: patience)
        var pause = Duration.milliseconds(2)
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try pool.writeWithoutTransaction { db in
                    try SQLiteSchema.migrate(db, storeName: path)
                }
                return pool
            } catch let error as DatabaseError
                where error.resultCode == .SQLITE_BUSY && clock.now.advanced(by: pause) < deadline
            {
                Thread.sleep(forTimeInterval: seconds(pause))
                pause = min(pause * 2, .milliseconds(100))
            } catch {
                throw persistenceError(error, store: path)
            }
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
