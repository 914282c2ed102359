import GRDB
import RedMLPersistence
import Synchronization

/// A range of revisions this process reserved in `ml_state`, handed out one by one.
///
/// Writing the counter row on every commit would add a page to every WAL
/// commit; reserving ``size`` revisions at a time writes it once per block.
/// Revisions stay unique across processes (each block is reserved in a write
/// transaction) and increase within a process; numbers left in a block when a
/// process exits are simply never used.
struct RevisionBlock: Sendable {
    /// Revisions reserved per block.
    static let size: Int64 = 1024
    var next: Int64
    var end: Int64
}

/// What a write sees inside a group transaction: the connection and the
/// revisions this process has reserved.
struct SQLiteWriteContext: ~Copyable {
    let db: Database
    fileprivate(set) var block: RevisionBlock?

    fileprivate init(db: Database, block: RevisionBlock?) {
        self.db = db
        self.block = block
    }

    /// Allocates the next revision, reserving a new block in `ml_state` when the
    /// current one is used up. The reservation is part of the transaction, so a
    /// rollback undoes it (and the committer then forgets the block).
    mutating func nextRevision() throws -> Int64 {
        if block == nil || block!.next == block!.end {
            let current = try SQLiteStatements.currentRevision(db)
            let last = current + RevisionBlock.size
            try db.cachedStatement(sql: "UPDATE ml_state SET revision = ? WHERE id = 1").execute(arguments: [last])
            block = RevisionBlock(next: current + 1, end: last + 1)
        }
        defer { block!.next += 1 }
        return block!.next
    }
}

/// Commits concurrent writes in groups, one SQLite transaction per group.
///
/// SQLite has one writer at a time, and a commit costs far more than the
/// statements inside it, so writes that arrive together share a transaction
/// (a write that can fail on its own, such as a conditional batch, runs in a
/// savepoint, so it does not fail the others).
///
/// A caller that finds no group running leads one on its own thread, with no
/// hop to another executor; this keeps a lone sequential caller fast. Callers
/// that arrive meanwhile wait. When the leader is done it hands the lead to the
/// first waiter, which commits itself and every write queued behind it.
///
/// The state machine is tiny and lives behind a `Mutex` that is never held
/// across I/O or an `await`.
final class GroupCommitter: Sendable {
    private enum Signal: Sendable {
        case done
        case lead
    }

    private struct Waiter: Sendable {
        let write: any PendingWrite
        let continuation: CheckedContinuation<Signal, Never>
    }

    private struct State: Sendable {
        var leading = false
        var waiting: [Waiter] = []
        var head = 0

        mutating func takeAll(max: Int) -> [Waiter] {
            let end = min(waiting.count, head + max)
            let taken = Array(waiting[head..<end])
            head = end
            compact()
            return taken
        }

        mutating func takeFirst() -> Waiter? {
            guard head < waiting.count else { return nil }
            defer {
                head += 1
                compact()
            }
            return waiting[head]
        }

        private mutating func compact() {
            if head == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                head = 0
            }
        }
    }

    private let pool: DatabasePool
    let checkpointer: BackgroundCheckpointer
    private let state = Mutex(State())
    /// Revisions reserved by this process; only the leader touches it.
    private let revisions = Mutex<RevisionBlock?>(nil)
    private let leads = Atomic<Int>(0)
    private let maximumGroupSize: Int

    init(pool: DatabasePool, checkpointer: BackgroundCheckpointer, maximumGroupSize: Int) {
        self.pool = pool
        self.checkpointer = checkpointer
        self.maximumGroupSize = maximumGroupSize
    }

    /// Runs `body` in a write transaction, possibly shared with other writes,
    /// and returns once that transaction has committed.
    ///
    /// - Parameter canFailAlone: whether `body` can throw while the transaction
    ///   is still good (a failed condition, say). Such a write runs in its own
    ///   savepoint when it shares a transaction; a write that can fail only with
    ///   the transaction itself (a plain put) skips the savepoint's two statements.
    func write<T: Sendable>(
        canFailAlone: Bool = true, _ body: @escaping @Sendable (inout SQLiteWriteContext) throws -> T
    ) async throws -> T {
        let write = Write(canFailAlone: canFailAlone, body)
        let leadsNow = state.withLock { state in
            if state.leading { return false }
            state.leading = true
            return true
        }
        if leadsNow {
            lead(with: write)
            // A caller that always finds the writer idle never suspends; give the
            // other tasks on its thread a turn now and then.
            if leads.add(1, ordering: .relaxed).newValue % 8 == 0 { await Task.yield() }
        } else {
            let signal = await withCheckedContinuation { (continuation: CheckedContinuation<Signal, Never>) in
                let leadsAfterAll = state.withLock { state in
                    if state.leading {
                        state.waiting.append(Waiter(write: write, continuation: continuation))
                        return false
                    }
                    state.leading = true
                    return true
                }
                if leadsAfterAll { continuation.resume(returning: .lead) }
            }
            if case .lead = signal { lead(with: write) }
        }
        return try write.result()
    }

    /// Commits `first` and everything queued, then passes the lead on.
    private func lead(with first: any PendingWrite) {
        let joined = state.withLock { $0.takeAll(max: maximumGroupSize - 1) }
        commitGroup([first] + joined.map(\.write))
        for waiter in joined { waiter.continuation.resume(returning: .done) }
        let next = state.withLock { state in
            let next = state.takeFirst()
            if next == nil { state.leading = false }
            return next
        }
        next?.continuation.resume(returning: .lead)
    }

    private func commitGroup(_ group: [any PendingWrite]) {
        do {
            try pool.writeWithoutTransaction { db in
                // Transaction control goes through cached statements: preparing
                // BEGIN, COMMIT and SAVEPOINT afresh on every commit costs more
                // than the write itself.
                try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
                do {
                    let block = try commitInTransaction(group, db)
                    try db.cachedStatement(sql: "COMMIT").execute()
                    revisions.withLock { $0 = block }
                } catch {
                    if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK").execute() }
                    throw error
                }
                if checkpointer.committed() {
                    // Best effort: if readers hold the WAL past the busy timeout, the next round tries again.
                    _ = try? db.checkpoint(.restart)
                }
            }
        } catch {
            // The transaction did not commit, so no write in it took effect.
            for write in group { write.fail(error) }
        }
    }

    /// Forgets the reserved revisions, so the next write reserves a block above
    /// whatever `ml_state` holds then (after a restore, say).
    func discardRevisionBlock() {
        revisions.withLock { $0 = nil }
    }

    private func commitInTransaction(_ group: [any PendingWrite], _ db: Database) throws -> RevisionBlock? {
        // The block is taken out for the transaction and put back only if it commits.
        var context = SQLiteWriteContext(db: db, block: revisions.withLock { block in
            defer { block = nil }
            return block
        })
        if group.count == 1 {
            try group[0].apply(&context)
        } else {
            // Each write that can fail alone in its own savepoint, so it is undone alone.
            for write in group {
                guard write.canFailAlone else {
                    try write.apply(&context)
                    continue
                }
                try db.cachedStatement(sql: "SAVEPOINT redml_write").execute()
                let blockBefore = context.block
                do {
                    try write.apply(&context)
                } catch {
                    // `apply` has recorded the failure as this write's outcome.
                    try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT redml_write").execute()
                    context.block = blockBefore  // the rollback also undid any reservation
                }
                try db.cachedStatement(sql: "RELEASE SAVEPOINT redml_write").execute()
            }
        }
        return context.block
    }
}

/// A write waiting to be committed, with its outcome once it has been.
private protocol PendingWrite: AnyObject, Sendable {
    var canFailAlone: Bool { get }
    func apply(_ context: inout SQLiteWriteContext) throws
    func fail(_ error: any Error)
}

private final class Write<T: Sendable>: PendingWrite {
    let canFailAlone: Bool
    private let body: @Sendable (inout SQLiteWriteContext) throws -> T
    private let outcome = Mutex<Result<T, any Error>?>(nil)

    init(canFailAlone: Bool, _ body: @escaping @Sendable (inout SQLiteWriteContext) throws -> T) {
        self.canFailAlone = canFailAlone
        self.body = body
    }

    func apply(_ context: inout SQLiteWriteContext) throws {
        do {
            let value = try body(&context)
            outcome.withLock { $0 = .success(value) }
        } catch {
            outcome.withLock { $0 = .failure(error) }
            throw error
        }
    }

    /// Records `error`, unless the write already failed alone: when the whole
    /// group then fails, its own error (a conflict the caller retries on) is the
    /// one that tells the caller what happened to it.
    func fail(_ error: any Error) {
        outcome.withLock { outcome in
            if case .failure? = outcome { return }
            outcome = .failure(error)
        }
    }

    func result() throws -> T {
        guard let outcome = outcome.withLock({ $0 }) else {
            throw MLPersistenceError.backend("internal error: a write finished without an outcome")
        }
        return try outcome.get()
    }
}
