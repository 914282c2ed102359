import Foundation
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
/// grow without end, and every open would have to read it all back. After
/// each background checkpoint this object looks at the WAL file's size; once
/// it passes ``walLimit``, ``committed()`` asks the writer for a RESTART
/// checkpoint, inline: it waits for readers to move past the WAL and copies
/// everything, so the next commit writes from the start of the file again
/// (and SQLite cuts the file back to `journal_size_limit`, the same limit).
/// Checking the size rather than counting commits keeps these pauses rare for
/// small commits and the file bounded for large ones.
///
/// RESTART rather than TRUNCATE: an emptied file has to grow again, and on
/// ext4 appending new blocks cost far more than overwriting existing ones
/// (one caller's submits: 17.5k jobs/s after TRUNCATE, 23.5k after RESTART).
final class BackgroundCheckpointer: Sendable {
    private struct State {
        var commitsSinceCheckpoint = 0
        var restartRequested = false
        var running = false
    }

    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "redml.sqlite.checkpoint")
    private let state = Mutex(State())
    /// Commits between two background checkpoints.
    let interval: Int
    /// The WAL size, in bytes, past which the writer empties it.
    let walLimit: Int
    private let walPath: String

    init(path: String, configuration: GRDB.Configuration, interval: Int, walLimit: Int) throws {
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
        self.walLimit = walLimit
        walPath = path + "-wal"
    }

    /// Waits for a running checkpoint and closes this object's connection.
    func close() throws {
        try queue.sync { try connection.close() }
    }

    /// Records one commit. Returns `true` when the writer should run a
    /// RESTART checkpoint inline, so that the WAL starts over.
    func committed() -> Bool {
        let (start, inline) = state.withLock { state -> (Bool, Bool) in
            state.commitsSinceCheckpoint += 1
            if state.restartRequested {
                state.restartRequested = false
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
                let size = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
                state.withLock { state in
                    state.running = false
                    state.commitsSinceCheckpoint = 0
                    if size > walLimit { state.restartRequested = true }
                }
            }
        }
        return inline
    }
}
