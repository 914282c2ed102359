import ArgumentParser
import Foundation
import RedML
import RedMLPostgres

/// The options every `redml` command takes: which store, and how to print.
struct StoreOptions: ParsableArguments {
    /// The environment variable read when `--store` is not given.
    static let environmentVariable = "REDML_STORE"
    /// The store used when neither `--store` nor `REDML_STORE` is set.
    static let defaultStore = "./redml.sqlite"

    /// The `--store` argument, if given.
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store: a SQLite file path, a postgres://user:pass@host:port/db URL, or memory: for a "
                + "throwaway in-memory store. "
                + "Default: $\(environmentVariable), else \(defaultStore).",
            valueName: "path|postgres://…|memory:"))
    var store: String?

    /// Whether to print one JSON object instead of text.
    @Flag(name: .long, help: "Print one machine-readable JSON object instead of text.")
    var json = false

    /// The store to use: `--store`, else `REDML_STORE`, else ``defaultStore``.
    func location(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        if let store { return try StoreLocation(parsing: store) }
        if let fromEnvironment = environment[Self.environmentVariable], !fromEnvironment.isEmpty {
            return try StoreLocation(parsing: fromEnvironment)
        }
        return try StoreLocation(parsing: Self.defaultStore)
    }

    /// Opens the store, runs `body` with it and closes it again.
    ///
    /// - Parameters:
    ///   - create: whether a missing SQLite file, or a PostgreSQL schema with
    ///     no store in it, may be made into a new store. Commands that only
    ///     inspect a store pass `false`, so a mistyped path or `schema=` fails
    ///     instead of quietly creating an empty store.
    ///   - announceCreation: whether a created store is announced on stderr.
    ///     Commands that create on purpose (`demo`, `store migrate`) and say
    ///     so themselves pass `false`; for the others (`train`, `worker`,
    ///     `serve`) a new empty store is more often a mistyped path.
    func withStore<Result>(
        create: Bool, announceCreation: Bool = true, _ body: (OpenedStore) async throws -> Result
    ) async throws -> Result {
        let storeLocation = try location()
        // Before opening: a failure to open gets advice for its kind of store too.
        CLIError.storeKind.store(storeLocation.kind, ordering: .relaxed)
        let opened = try OpenedStore.open(storeLocation, create: create)
        if announceCreation, opened.created, opened.sqlite != nil {
            Console.note("created a new, empty store at \(opened.location); to use an existing one, "
                         + "pass its path with --store or set $\(Self.environmentVariable)")
        }
        guard let postgres = opened.postgres else {
            do {
                let result = try await body(opened)
                try opened.close()
                return result
            } catch {
                try? opened.close()
                throw error
            }
        }
        // A PostgreSQL store's connection pool runs beside the command, and stops after it.
        // Not in a task group: leaving one waits for the pool however long its connections
        // take to close, and a command that is done (a worker told to stop) must still end.
        let pool = BoundedTask { await postgres.client.run() }
        do {
            let result = try await withTaskCancellationHandler {
                var opened = opened
                opened.created = try await Self.connect(postgres, location: opened.location, create: create)
                if announceCreation, opened.created {
                    Console.note("created a new, empty store in schema \(postgres.schema) at \(opened.location); to use "
                                 + "an existing one, name its schema with the URL's schema= parameter")
                }
                return try await body(opened)
            } onCancel: {
                pool.cancel()
            }
            await Self.close(pool)
            return result
        } catch {
            await Self.close(pool)
            throw error
        }
    }

    /// ``withStore(create:announceCreation:_:)`` for a command only SQLite
    /// stores have: any other store is refused before it is opened, so a
    /// PostgreSQL schema is not created for nothing. For PostgreSQL the error
    /// names `postgresAlternative`, what does the job there.
    func withSQLiteStore<Result>(
        for command: String, postgresAlternative: String, create: Bool, announceCreation: Bool = true,
        _ body: (SQLiteMLPersistence) async throws -> Result
    ) async throws -> Result {
        let location = try location()
        guard case .sqlite = location else {
            var alternative = ""
            if case .postgres = location { alternative = " (for PostgreSQL, \(postgresAlternative))" }
            throw CLIError(
                "`redml \(command)` needs a SQLite store, but --store is \(location); pass --store with a "
                    + "SQLite file path\(alternative)")
        }
        return try await withStore(create: create, announceCreation: announceCreation) { opened in
            // A SQLite location always opens the SQLite backend.
            guard let sqlite = opened.sqlite else { throw CLIError("--store \(location) did not open as SQLite") }
            return try await body(sqlite)
        }
    }

    /// How long a finished command waits for its PostgreSQL connections to close.
    static let poolCloseLimit: Duration = .seconds(10)

    /// Stops the connection pool; if its connections do not close in time,
    /// says so and lets the command end without them.
    private static func close(_ pool: BoundedTask) async {
        guard await !pool.stop(waitingAtMost: poolCloseLimit) else { return }
        CLIRuntime.logger("redml.store", default: .warning).warning(
            "the PostgreSQL connection pool did not close within \(poolCloseLimit); ending without waiting for it")
    }

    /// The environment variable that sets how long a command waits to reach PostgreSQL, in seconds.
    static let connectTimeoutVariable = "REDML_POSTGRES_CONNECT_TIMEOUT"

    /// How long a command waits to reach PostgreSQL: `REDML_POSTGRES_CONNECT_TIMEOUT`
    /// seconds when that is a positive number, else 10 s (and a note, once, says why).
    static let connectTimeout: Duration = {
        let fallback = Duration.seconds(10)
        guard let text = ProcessInfo.processInfo.environment[connectTimeoutVariable], !text.isEmpty else { return fallback }
        guard let seconds = Double(text), seconds.isFinite, seconds > 0 else {
            Console.note("\(connectTimeoutVariable)='\(text)' is not a positive number of seconds, so it is ignored; "
                + "waiting \(fallback) for PostgreSQL")
            return fallback
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }()

    /// How long the connection pool gives one attempt to connect: PostgresNIO's
    /// 10 s, or less when the command waits less (``connectTimeout``), since a
    /// command cannot end while an attempt is in flight (PostgresNIO cannot cancel one).
    static var poolConnectTimeout: Duration { min(.seconds(10), connectTimeout) }

    /// How long a migration may wait before a separate connection asks the
    /// server why, and how often it asks again while the server refuses.
    static let probeInterval: Duration = .seconds(1)

    /// How long before the timeout a probe gives up, so that its answer arrives in time to be named.
    static let probeMargin: Duration = .milliseconds(500)

    /// What waiting for the first connection came to.
    private enum Attempt: Sendable {
        case reached(created: Bool), probeDue, probed(PostgresConnectionProblem?), timedOut, noStore
    }

    /// Migrates the schema, which is the first use of a connection. The pool
    /// retries a connection the server refuses without telling its queries,
    /// so every ``probeInterval`` one connection of its own asks why: a
    /// lasting reason (a wrong password, no such database) ends the wait at
    /// once; a passing one (connection refused while the server starts) is
    /// what the timeout's message names.
    ///
    /// A schema with no store in it is a mistake (a typo in `schema=`) unless
    /// `create` allows making one; returns whether it made one.
    private static func connect(_ postgres: PostgresMLPersistence, location: StoreLocation, create: Bool) async throws -> Bool {
        let timeout = connectTimeout
        let logger = CLIRuntime.logger("redml.postgres", default: .warning)
        let deadline = ContinuousClock.now + timeout
        var lastProblem: PostgresConnectionProblem?
        let outcome = try await withThrowingTaskGroup(of: Attempt.self) { group -> Attempt in
            group.addTask {
                let found = try await postgres.storedSchemaVersion()
                guard found > 0 || create else { return .noStore }
                try await postgres.migrate()
                return .reached(created: found == 0)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return .timedOut
            }
            func probeLater() {
                group.addTask {
                    try await Task.sleep(for: probeInterval)
                    return .probeDue
                }
            }
            probeLater()
            defer { group.cancelAll() }
            while let next = try await group.next() {
                switch next {
                case .probeDue:
                    guard case .postgres(let url) = location else { continue }
                    // Bounded by the time left (the group waits for it, even after the timeout), less
                    // a margin when there is room for one, so that a server that never answers is named
                    // before the timeout. Without room it still runs: a refusal answers at once.
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { continue }
                    let bound = left - probeMargin > .milliseconds(100) ? left - probeMargin : left
                    group.addTask {
                        .probed(try await PostgresMLPersistence.connectionProblem(url: url, timeout: bound, logger: logger))
                    }
                case .probed(let problem?) where problem.isLasting:
                    return next
                case .probed(let problem):
                    // Passing, or none: the server may yet take the pool's connections; the timeout names it.
                    lastProblem = problem
                    probeLater()
                default:
                    return next
                }
            }
            return .timedOut
        }
        switch outcome {
        case .reached(let created):
            return created
        case .noStore:
            throw CLIError(
                "no RedML store in schema \(postgres.schema) at \(location); check the URL's schema= parameter, "
                    + "or create the store with `redml store migrate`")
        case .probed(let problem?) where problem.isLasting:
            throw CLIError(
                "cannot connect to PostgreSQL at \(location): \(problem.message); check the user, password and "
                    + "database in --store")
        case .probeDue, .probed, .timedOut:
            let reason = lastProblem.map { " (\($0.message))" } ?? ""
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            throw CLIError(
                "cannot reach PostgreSQL at \(location) within \(seconds) s\(reason); check the host, port, user and "
                    + "password in --store and that the server is running (\(connectTimeoutVariable) sets the wait)")
        }
    }
}
