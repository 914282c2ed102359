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
/// The background checkpoint can fall behind when a busy machine starves its
/// thread. Past ``lateAfter`` commits with one requested but not finished, the
/// writer looks at the WAL's size itself and, past the limit, tries the
/// RESTART checkpoint inline, so the file stays bounded however late the
/// background queue runs. A background checkpoint that is still copying (a
/// large WAL) holds SQLite's checkpoint lock, and the inline RESTART then
/// fails at once (SQLite does not wait for that lock); the RESTART that the
/// background checkpoint asks for when it ends follows as before.
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
    /// Commits after which a background checkpoint requested but not finished counts as
    /// late, and the writer checks the WAL's size itself.
    var lateAfter: Int { interval * 4 }
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
        enum Step { case none, startInBackground, restart, checkSize }
        let step = state.withLock { state -> Step in
            state.commitsSinceCheckpoint += 1
            if state.restartRequested {
                state.restartRequested = false
                state.commitsSinceCheckpoint = 0
                return .restart
            }
            guard state.commitsSinceCheckpoint >= interval else { return .none }
            guard state.running else {
                state.running = true
                return .startInBackground
            }
            guard state.commitsSinceCheckpoint >= lateAfter else { return .none }
            state.commitsSinceCheckpoint = 0
            return .checkSize
        }
        switch step {
        case .none:
            return false
        case .restart:
            return true
        case .checkSize:
            return walSize() > walLimit
        case .startInBackground:
            queue.async { [self] in
                _ = try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
                let size = walSize()
                state.withLock { state in
                    state.running = false
                    state.commitsSinceCheckpoint = 0
                    if size > walLimit { state.restartRequested = true }
                }
            }
            return false
        }
    }

    private func walSize() -> Int {
        (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
    }

    /// Holds back the background checkpoints until ``resumeForTesting()``, as
    /// a starved thread would; a test of the inline fallback needs them late.
    func suspendForTesting() { queue.suspend() }

    /// Lets the background checkpoints held back by ``suspendForTesting()`` run.
    func resumeForTesting() { queue.resume() }
}
