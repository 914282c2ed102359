import Logging

extension SQLiteMLPersistence {
    /// How far an acknowledged write is protected.
    ///
    /// Options are static members so that more can be added without breaking callers.
    public struct Durability: Hashable, Sendable, CustomStringConvertible {
        let synchronous: String

        /// An acknowledged write survives a crash or `kill -9` of the process, but
        /// the last writes may be lost if the machine loses power. SQLite's WAL
        /// mode with `synchronous = NORMAL`. This is the default.
        public static let processCrash = Durability(synchronous: "NORMAL")

        /// An acknowledged write also survives power loss: every commit waits for
        /// `fsync`. SQLite's WAL mode with `synchronous = FULL`; commits are slower.
        public static let powerLoss = Durability(synchronous: "FULL")

        public var description: String { self == .powerLoss ? "power-loss" : "process-crash" }
    }

    /// Settings for opening a SQLite store. Every default is documented.
    public struct Configuration: Sendable {
        /// How durable an acknowledged write is. Default: ``Durability/processCrash``.
        public var durability: Durability = .processCrash

        /// How long a write waits for another process that holds the write lock
        /// before it fails. Default: 10 seconds.
        public var busyTimeout: Duration = .seconds(10)

        /// How many connections may read at once. Default: 4.
        public var maximumReaderCount: Int = 4

        /// The size of the chunks blobs are stored in. Default: 1 MiB.
        public var blobChunkSize: Int = 1 << 20

        /// How many concurrent writes may share one transaction. Default: 512.
        public var maximumGroupSize: Int = 512

        /// The size, in bytes, past which the write-ahead log starts over from
        /// its beginning, and to which the file is cut back when it does.
        /// Default: 64 MiB.
        ///
        /// The log keeps its size between restarts, so commits overwrite
        /// blocks the file already has instead of growing it again: measured,
        /// one caller's submits went from 17.5k to 23.5k jobs/s.
        public var walSizeLimit: Int = 64 << 20

        /// Whether opening a path that is not yet a RedML store makes it one: a
        /// missing file is created and a database without RedML's schema gets
        /// it. Default: `true`.
        ///
        /// Set it to `false` where only an existing store should open (a
        /// command that reads, say): a missing file, or a SQLite database
        /// without RedML's schema (another application's, or a copy cut off
        /// before it finished), is then refused with
        /// ``MLPersistenceError/invalidArgument(_:)`` and left as it was. An
        /// existing store's schema is still brought up to date.
        public var createsStore: Bool = true

        /// Where the store logs what it skips or repairs. Default: a logger that discards everything.
        public var logger: Logger = Logger(label: "redml.sqlite", factory: { _ in SwiftLogNoOpLogHandler() })

        /// Creates the default configuration.
        public init() {}
    }
}
