import Foundation
import Logging
import PostgresNIO
import RedMLPersistence
import ServiceLifecycle
import Synchronization

/// The PostgreSQL backend: every namespace, entry and blob in tables of one
/// PostgreSQL schema, through PostgresNIO's connection pool.
///
/// - Several processes can share the store: every write is one `SERIALIZABLE`
///   transaction, conditions are checked inside it, and a transaction that
///   loses a race with another is run again, so compare-and-swap is exact.
/// - Revisions come from one sequence: unique across processes, never reused.
/// - Blobs are stored in chunks of `bytea`.
/// - The schema is versioned by append-only migrations (the `redml_migrations`
///   table), applied on first use under an advisory lock.
/// - Operators can read the `ml_models`, `ml_model_versions` and `ml_jobs` views with psql.
///
/// The pool's connections are made by ``run()`` (the store is a
/// swift-service-lifecycle `Service`); scripts and tests use the scoped form:
///
/// ```swift
/// try await PostgresMLPersistence.withPersistence(url: "postgres://app:secret@db:5432/app") { store in
///     try await store.put(namespace: MLNamespace.jobs, key: MLKey.job(id), value: json)
/// }
/// ```
public final class PostgresMLPersistence: MLStore, Service {
    /// The PostgreSQL schema that holds the store's tables.
    public let schema: String
    /// The chunk size blobs are stored in.
    public let blobChunkSize: Int
    /// Where the store lives, for messages (no password).
    public let storeName: String
    /// The connection pool the store uses (its own, or the one it was given).
    public let client: PostgresClient
    let tables: PostgresTables
    let logger: Logger
    /// Whether this store made the client, and so must run it.
    private let ownsClient: Bool
    /// Fails statements stranded on a connection that closed under them.
    let statementWatch = ClosedConnectionWatch()
    private let state = Mutex(RunState())

    private struct RunState {
        var isRunning = false
        var schemaIsReady = false
        /// The dead rows of `ml_job` that this store's last vacuum could not remove
        /// (an older transaction elsewhere still sees them), see ``reclaimJobSpace()``.
        var deadJobRowsLeft: Int64 = 0
    }

    /// The dead rows of `ml_job` that the last vacuum left.
    var deadJobRowsLeft: Int64 {
        get { state.withLock { $0.deadJobRowsLeft } }
        set { state.withLock { $0.deadJobRowsLeft = newValue } }
    }

    /// Creates a store for the database at `url`, with its own connection pool.
    ///
    /// Nothing connects until ``run()`` runs (or use ``withPersistence(url:schema:tls:maximumConnections:blobChunkSize:logger:_:)``).
    ///
    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/database?sslmode=prefer`. `sslmode`
    ///     takes libpq's values: `disable`, `allow`, `prefer` (the default), `require`,
    ///     `verify-ca`, `verify-full`.
    ///   - schema: the PostgreSQL schema for the store's tables, created if missing,
    ///     so that several applications can share one database. Default: the URL's
    ///     `schema` parameter, else `redml`.
    ///   - tls: a TLS setting that replaces the one `sslmode` gives, for custom
    ///     certificates. Default: `nil`, use `sslmode`.
    ///   - maximumConnections: the pool's size. Default: 20.
    ///   - blobChunkSize: the size of the `bytea` chunks blobs are cut into. Default: 1 MiB.
    ///   - logger: where the store and the driver log. Default: discards everything.
    /// - Throws: ``MLPersistenceError/invalidArgument(_:)`` for a malformed URL or schema name.
    public convenience init(
        url: String,
        schema: String? = nil,
        tls: PostgresClient.Configuration.TLS? = nil,
        maximumConnections: Int = 20,
        blobChunkSize: Int = 1 << 20,
        logger: Logger = Logger(label: "redml.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        let parsed = try PostgresURL(url)
        let schema = schema ?? parsed.schema ?? Self.defaultSchema
        guard maximumConnections >= 1 else {
            throw MLPersistenceError.invalidArgument("maximumConnections must be at least 1, got \(maximumConnections)")
        }
        var configuration = parsed.clientConfiguration(tls: tls)
        configuration.options.maximumConnections = maximumConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        try self.init(
            client: client, ownsClient: true, schema: schema, blobChunkSize: blobChunkSize, logger: logger,
            storeName: "\(parsed.display) schema \(schema)")
    }

    /// Creates a store on a client that the caller runs (`client.run()`) and
    /// may share with other stores, for example one per schema.
    ///
    /// The store's own ``run()`` then only applies migrations and waits for shutdown.
    public convenience init(
        client: PostgresClient,
        schema: String = "redml",
        blobChunkSize: Int = 1 << 20,
        logger: Logger = Logger(label: "redml.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        try self.init(
            client: client, ownsClient: false, schema: schema, blobChunkSize: blobChunkSize, logger: logger,
            storeName: "postgres schema \(schema)")
    }

    private init(
        client: PostgresClient, ownsClient: Bool, schema: String, blobChunkSize: Int, logger: Logger,
        storeName: String
    ) throws {
        guard blobChunkSize >= 1 else {
            throw MLPersistenceError.invalidArgument("blobChunkSize must be positive, got \(blobChunkSize)")
        }
        tables = try PostgresTables(schema: schema)
        self.client = client
        self.ownsClient = ownsClient
        self.schema = schema
        self.blobChunkSize = blobChunkSize
        self.logger = logger
        self.storeName = storeName
    }

    /// The client configuration for `url`, for callers that make and run their own
    /// ``PostgresClient`` and share it between stores (``init(client:schema:blobChunkSize:logger:)``).
    ///
    /// Its sessions set `idle_in_transaction_session_timeout` to 10 s, so a
    /// stalled process cannot keep rows locked; a client configured otherwise
    /// should do the same.
    ///
    /// - Throws: ``MLPersistenceError/invalidArgument(_:)`` for a malformed URL.
    public static func clientConfiguration(
        url: String, tls: PostgresClient.Configuration.TLS? = nil
    ) throws -> PostgresClient.Configuration {
        try PostgresURL(url).clientConfiguration(tls: tls)
    }

    /// The schema a store uses when neither its initialiser nor its URL names one: `redml`.
    public static let defaultSchema = "redml"

    /// The `schema` parameter of `url`, if it has one.
    ///
    /// - Throws: ``MLPersistenceError/invalidArgument(_:)`` for a malformed URL or schema name.
    public static func schema(inURL url: String) throws -> String? {
        try PostgresURL(url).schema
    }

    /// `url` with its password, if any, replaced by `***`: safe for logs and error messages.
    public static func redacted(url: String) -> String {
        PostgresURL.redacted(url)
    }

    /// The schema version this build of RedML writes.
    public static var schemaVersion: Int { PostgresSchema.currentVersion }

    // MARK: Running

    /// Runs the connection pool (when the store made it) and applies
    /// migrations, until graceful shutdown or cancellation.
    ///
    /// - Throws: ``MLPersistenceError/schemaTooNew(store:found:supported:)`` at
    ///   once for a schema written by a newer RedML, or another migration error,
    ///   so that a service group stops instead of serving from a store it cannot use.
    public func run() async throws {
        try markRunning()
        try await withThrowingTaskGroup(of: Void.self) { group in
            if ownsClient {
                group.addTask { await self.client.run() }
            }
            do {
                try await migrate()
            } catch {
                group.cancelAll()
                throw error
            }
            if ownsClient {
                // The client returns on graceful shutdown or cancellation.
                _ = try await group.next()
            } else {
                try? await gracefulShutdown()
            }
        }
    }

    /// Runs `body` with a store whose pool runs for exactly that long, with its
    /// schema migrated, then closes the pool: for scripts, commands and tests.
    public static func withPersistence<T: Sendable>(
        url: String,
        schema: String? = nil,
        tls: PostgresClient.Configuration.TLS? = nil,
        maximumConnections: Int = 20,
        blobChunkSize: Int = 1 << 20,
        logger: Logger = Logger(label: "redml.postgres", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (PostgresMLPersistence) async throws -> T
    ) async throws -> T {
        let store = try PostgresMLPersistence(
            url: url, schema: schema, tls: tls, maximumConnections: maximumConnections,
            blobChunkSize: blobChunkSize, logger: logger)
        try store.markRunning()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.client.run() }
            defer { group.cancelAll() }
            try await store.migrate()
            return try await body(store)
        }
    }

    /// Creates or upgrades the schema now. Every operation does it on first
    /// use anyway; call it to see a migration error early.
    ///
    /// - Throws: ``MLPersistenceError/schemaTooNew(store:found:supported:)`` for
    ///   a schema written by a newer RedML.
    public func migrate() async throws {
        try await migrate(upTo: PostgresSchema.currentVersion)
        state.withLock { $0.schemaIsReady = true }
    }

    /// Migrates the schema only as far as `version`, for tests of later
    /// migrations on data an older RedML wrote. Any other call migrates the rest.
    package func migrate(upTo version: Int) async throws {
        try checkRunning()
        do {
            try await withOpenConnection { sql in
                try await PostgresSchema.migrate(
                    sql, tables: tables, storeName: storeName, upTo: min(version, PostgresSchema.currentVersion))
            }
        } catch {
            throw persistenceError(error, store: storeName)
        }
    }

    /// The schema version recorded in the database (0 before the first
    /// migration), read without migrating.
    public func storedSchemaVersion() async throws -> Int {
        try await withSQL(migrating: false) { sql in try await PostgresSchema.version(sql, tables: self.tables) }
    }

    private func markRunning() throws {
        try state.withLock { state in
            guard !state.isRunning else {
                throw MLPersistenceError.invalidArgument("\(storeName) is already running; run() it only once")
            }
            state.isRunning = true
        }
    }

    /// A pool that nobody runs would make every call wait forever: fail instead.
    private func checkRunning() throws {
        guard ownsClient, !state.withLock({ $0.isRunning }) else { return }
        throw MLPersistenceError.backend(
            "postgres \(storeName): the connection pool is not running; run the store as a Service "
                + "(run()) or use PostgresMLPersistence.withPersistence")
    }

    // MARK: Access

    /// Runs `body` on a pooled connection outside any explicit transaction,
    /// after making sure the schema is up to date unless `migrating` is false.
    func withSQL<T: Sendable>(migrating: Bool = true, _ body: (PostgresSQL) async throws -> T) async throws -> T {
        if migrating {
            try await ensureSchema()
        } else {
            try checkRunning()
        }
        do {
            return try await withOpenConnection(body)
        } catch {
            throw persistenceError(error, store: storeName)
        }
    }

    /// Runs `body` on a pooled connection that was open when the pool handed it out.
    ///
    /// For a moment after the server ends a session (it was idle in a
    /// transaction too long, or the server restarted) the pool may still hand
    /// out its connection; that one goes back unused and another is asked for,
    /// since nothing was sent on it. A connection that closes once `body` has
    /// started fails `body`'s next statement with ``PostgresConnectionClosed``.
    func withOpenConnection<T: Sendable>(_ body: (PostgresSQL) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withConnection { connection in
                    guard !connection.isClosed else { throw HandedClosedConnection() }
                    return try await body(PostgresSQL(connection: connection, logger: logger, watch: statementWatch))
                }
            } catch is HandedClosedConnection {
                guard attempt < Self.maximumAttempts else { throw PostgresConnectionClosed() }
                attempt += 1
                // The pool removes a closed connection once it sees the close: give it that moment.
                try await Task.sleep(for: .milliseconds(min(100, attempt * 5)))
            }
        }
    }

    /// The pool handed out a connection already closed: ask for another.
    private struct HandedClosedConnection: Error {}

    /// Runs `body` in a `SERIALIZABLE` transaction, running it again while it
    /// fails only because a concurrent transaction won a race.
    ///
    /// `body` must depend on nothing but the database, since it may run more
    /// than once; a transaction that failed that way was rolled back, so
    /// nothing is applied twice.
    func serializable<T: Sendable>(_ body: (PostgresSQL) async throws -> T) async throws -> T {
        try await transaction(isolation: "SERIALIZABLE", body)
    }

    /// Runs `body` in a transaction at `isolation` (or, for `nil`, as the
    /// statements it sends: one statement is then a transaction of its own at
    /// the session's default, `READ COMMITTED`), running it again while it
    /// fails only because a concurrent transaction won a race (or deadlocked with it).
    func transaction<T: Sendable>(isolation: String?, _ body: (PostgresSQL) async throws -> T) async throws -> T {
        try await ensureSchema()
        var attempt = 1
        while true {
            do {
                return try await withOpenConnection { sql in
                    guard let isolation else { return try await body(sql) }
                    return try await sql.transaction(isolation: isolation, body)
                }
            } catch where isRetryableConflict(error) {
                guard attempt < Self.maximumAttempts else {
                    let cause = persistenceError(error, store: storeName)
                    throw MLPersistenceError.backend(
                        "gave up after \(attempt) attempts that all lost a race with concurrent writers: \(cause)")
                }
                logger.debug(
                    "retrying a write that lost a race", metadata: ["attempt": "\(attempt)", "sqlstate": "\(sqlState(error) ?? "")"])
                attempt += 1
                // Random pauses keep racing writers from meeting again in step.
                let pause = Duration.microseconds(Int64.random(in: 100...Int64(min(50_000, 500 << min(attempt, 7)))))
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    throw persistenceError(error, store: storeName)
                }
            } catch {
                throw persistenceError(error, store: storeName)
            }
        }
    }

    /// How many times a write that keeps losing races is tried.
    static let maximumAttempts = 64

    private func ensureSchema() async throws {
        try checkRunning()
        if state.withLock({ $0.schemaIsReady }) { return }
        // Concurrent first calls may each migrate: the advisory lock makes all
        // but the first find nothing to do.
        try await migrate()
    }
}
