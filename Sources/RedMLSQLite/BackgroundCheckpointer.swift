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
/// keep committing meanwhile.
///
/// A passive checkpoint never lets the WAL start over while writers keep
/// appending (it only copies what was there when it began), so the file would
/// grow without end, and every open would have to read it all back. Every
/// ``restartInterval`` commits, ``committed()`` therefore asks the writer for
/// a TRUNCATE checkpoint, inline: it waits for readers to move past the WAL,
/// copies everything, and empties the file.
final class BackgroundCheckpointer: Sendable {
    private struct State {
        var commitsSinceCheckpoint = 0
        var commitsSinceRestart = 0
        var running = false
    }

    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "redml.sqlite.checkpoint")
    private let state = Mutex(State())
    /// Commits between two background checkpoints.
    let interval: Int
    /// Commits between two inline checkpoints that empty the WAL.
    var restartInterval: Int { interval * 4 }

    init(path: String, configuration: GRDB.Configuration, interval: Int) throws {
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// Waits for a running checkpoint and closes this object's connection.
    func close() throws {
        try queue.sync { try connection.close() }
    }

    /// Records one commit. Returns `true` when the writer should run a
    /// TRUNCATE checkpoint inline, so that the WAL starts over.
    func committed() -> Bool {
        let (start, inline) = state.withLock { state -> (Bool, Bool) in
            state.commitsSinceCheckpoint += 1
            state.commitsSinceRestart += 1
            if state.commitsSinceRestart >= restartInterval {
                state.commitsSinceRestart = 0
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
