import Dispatch
import GRDB
import Synchronization

/// Runs WAL checkpoints on a background queue instead of inside commits.
///
/// SQLite's automatic checkpoint runs in the connection that happens to
/// commit, and a checkpoint ends with `fsync`, which can take tens of
/// milliseconds: every few hundred commits, one caller would wait for it. The
/// writer connection therefore runs with `wal_autocheckpoint = 0`, and after
/// every ``interval`` commits this object runs a PASSIVE checkpoint on its own
/// connection and queue. A passive checkpoint takes no write lock, so writers
/// keep committing meanwhile. If checkpoints fall far behind anyway (a slow
/// disk), ``committed()`` says so, and the writer checkpoints inline, as
/// SQLite would have, so the WAL stays bounded.
final class BackgroundCheckpointer: Sendable {
    private struct State {
        var commitsSinceCheckpoint = 0
        var running = false
    }

    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "redml.sqlite.checkpoint")
    private let state = Mutex(State())
    /// Commits between two background checkpoints.
    let interval: Int

    init(path: String, configuration: GRDB.Configuration, interval: Int) throws {
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// Waits for a running checkpoint and closes this object's connection.
    func close() throws {
        try queue.sync { try connection.close() }
    }

    /// Records one commit. Returns `true` when the writer should checkpoint
    /// inline because background checkpoints have fallen far behind.
    func committed() -> Bool {
        let (start, inline) = state.withLock { state -> (Bool, Bool) in
            state.commitsSinceCheckpoint += 1
            if state.commitsSinceCheckpoint >= interval * 16 {
                state.commitsSinceCheckpoint = 0
                return (false, true)
            }
            guard state.commitsSinceCheckpoint >= interval, !state.running else { return (false, false) }
            state.running = true
            return (true, false)
        }
        if start {
            queue.async { [self] in
                _ = try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
                state.withLock { state in
                    state.running = false
                    state.commitsSinceCheckpoint = 0
                }
            }
        }
        return inline
    }
}
