import RedML
import Synchronization

/// An expected failure of a command: reported as one line on stderr that says
/// what went wrong and what to do, and a non-zero exit code.
struct CLIError: Error, CustomStringConvertible {
    /// The line printed after `redml: `.
    var message: String
    /// The process exit code.
    var exitCode: Int32
    /// A stable name for the kind of failure, for `--json` output: the
    /// library error's code where one caused it, `invalid_argument` for an
    /// argument the command cannot use, else `failed`.
    var code = "failed"
    /// Whether the command already printed its `--json` result, which tells
    /// the failure itself (`store check`'s problems, `jobs watch`'s final job),
    /// so no error object follows it on stdout.
    var resultPrinted = false

    /// A failure with its own message. An argument the command cannot use
    /// (`invalid_argument`) exits 64 unless told otherwise: it is a usage
    /// error wherever it was found (after parsing, or by the library), so
    /// scripts tell "fix the invocation" from "the operation failed".
    init(_ message: String, exitCode: Int32? = nil, code: String = "failed") {
        self.message = message
        self.exitCode = exitCode ?? (code == "invalid_argument" ? 64 : 1)
        self.code = code
    }

    /// An argument the command cannot use (a bad job id, time or JSON), with
    /// the code the library and the HTTP API give refused input.
    static func invalidArgument(_ message: String) -> CLIError {
        CLIError(message, code: "invalid_argument")
    }

    /// A failure reported by the persistence layer.
    ///
    /// - Parameters:
    ///   - context: what the command was doing, put in front, such as
    ///     `cannot restore ./redml.sqlite from b.sqlite`.
    ///   - advice: what to do, put after; by default advice that fits the error.
    init(_ error: MLPersistenceError, context: String? = nil, advice: String? = nil) {
        let advice = advice ?? Self.advice(for: error)
        self.init((context.map { "\($0): " } ?? "") + error.description + (advice.isEmpty ? "" : "; \(advice)"),
                  code: error.code)
    }

    /// The message.
    var description: String { message }

    /// The kinds of store a command opens, each with advice of its own.
    enum StoreKind: UInt8, AtomicRepresentable {
        /// A SQLite file (the default).
        case sqlite
        /// A `postgres://` URL.
        case postgres
        /// `memory:`.
        case memory
    }

    /// The kind of store the command opens (set by ``StoreOptions/withStore(create:announceCreation:_:)``
    /// before it opens it): advice then names what works there, since `redml store restore`
    /// takes SQLite stores only, and only a SQLite store is a file. One command runs per process.
    static let storeKind = Atomic<StoreKind>(.sqlite)

    /// Whether the command opened a PostgreSQL store.
    static var onPostgres: Bool { storeKind.load(ordering: .relaxed) == .postgres }

    /// What to do about a damaged record or blob: `redml store check`, then `redml store restore`,
    /// or on PostgreSQL psql and `pg_restore` (README, "PostgreSQL and scaling out").
    static var damageAdvice: String {
        onPostgres
            ? "run `redml store check` to list the damage, inspect it with psql (the ml_jobs, ml_models and "
                + "ml_model_versions views flag records that are not JSON), and restore from a pg_dump backup "
                + "with pg_restore to repair it"
            : "run `redml store check` to list the damage, and `redml store restore` from a backup to repair it"
    }

    /// What to do about a store error that is neither damage nor a conflict, for the kind of store it came from.
    static func backendAdvice(for kind: StoreKind) -> String {
        switch kind {
        case .sqlite:
            "check that --store names a SQLite file in an existing directory that you can read and write, "
                + "and that the disk has room"
        case .postgres:
            // Not reaching the server is reported before this (StoreOptions.connect): the server answered.
            "the PostgreSQL server failed the statement: check the server's log, that its disk has room, and that "
                + "the user in --store may read and write the store's schema (`redml store info` shows its version)"
        case .memory:
            // Nothing outside the process can fail an in-memory store.
            "the in-memory store (memory:) failed, which should not happen; please report it with the command that failed"
        }
    }

    private static func advice(for error: MLPersistenceError) -> String {
        switch error {
        case .schemaTooNew, .invalidArgument:
            // These descriptions already say what to do, or name the bad input.
            ""
        case .backend(let message) where message.contains("(SQLite code 26)"):
            // SQLITE_NOTADB: no SQLite tool reads it, `redml store check` included.
            "the file is not a SQLite database (or its first page is destroyed): check that --store names your "
                + "store; if it does, `redml store restore` it from a backup"
        case .backend(let message) where message.contains("(SQLite code 11)"):
            // SQLITE_CORRUPT: the file itself is damaged.
            "the file is damaged: run `redml store check` to see what is wrong, "
                + "and `redml store restore` from a backup to repair it"
        case .backend:
            backendAdvice(for: storeKind.load(ordering: .relaxed))
        case .corruption, .blobNotFound, .blobVerificationFailed:
            damageAdvice
        case .conflict:
            "another writer changed it at the same time; run the command again"
        }
    }
}
