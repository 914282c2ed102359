import GRDB
import RedMLPersistence
import Synchronization

/// What a write sees inside a group transaction: the connection and the
/// store's revision counter, which it advances once per commit it makes.
struct SQLiteWriteContext: ~Copyable {
    let db: Database
    private(set) var revision: Int64
    private(set) var advanced = false

    init(db: Database, revision: Int64) {
        self.db = db
        self.revision = revision
    }

    /// Allocates the next revision. A write rolled back with its savepoint
    /// leaves a gap, which is harmless: revisions only need to be unique and increasing.
    mutating func nextRevision() -> Int64 {
        revision += 1
        advanced = true
        return revision
    }
}

/// Commits concurrent writes in groups, one SQLite transaction per group.
///
/// SQLite has one writer at a time, and a commit costs far more than the
/// statements inside it, so writes that arrive together share a transaction
/// (each in its own savepoint, so one failing write does not fail the others).
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
    private let checkpointer: BackgroundCheckpointer
    private let state = Mutex(State())
    private let leadsInARow = Atomic<Int>(0)
    private let maximumGroupSize: Int

    init(pool: DatabasePool, checkpointer: BackgroundCheckpointer, maximumGroupSize: Int) {
        self.pool = pool
        self.checkpointer = checkpointer
        self.maximumGroupSize = maximumGroupSize
    }

    /// Runs `body` in a write transaction, possibly shared with other writes,
    /// and returns once that transaction has committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (inout SQLiteWriteContext) throws -> T) async throws -> T {
        let write = Write(body)
        let leadsNow = state.withLock { state in
            if state.leading { return false }
            state.leading = true
            return true
        }
        if leadsNow {
            lead(with: write)
            // A caller that always finds the writer idle never suspends; give the
            // other tasks on its thread a turn now and then.
            if leadsInARow.add(1, ordering: .relaxed).newValue % 8 == 0 { await Task.yield() }
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
                    try commitInTransaction(group, db)
                    try db.cachedStatement(sql: "COMMIT").execute()
                } catch {
                    if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK").execute() }
                    throw error
                }
                if checkpointer.committed() {
                    try? db.checkpoint(.passive)
                }
            }
        } catch {
            // The transaction did not commit, so no write in it took effect.
            for write in group { write.fail(error) }
        }
    }

    private func commitInTransaction(_ group: [any PendingWrite], _ db: Database) throws {
        let revision = try Int64.fetchOne(db.cachedStatement(sql: "SELECT revision FROM ml_state WHERE id = 1")) ?? 0
        var context = SQLiteWriteContext(db: db, revision: revision)
        if group.count == 1 {
            try group[0].apply(&context)
        } else {
            // Each write in its own savepoint: one that fails is undone alone.
            for write in group {
                try db.cachedStatement(sql: "SAVEPOINT redml_write").execute()
                do {
                    try write.apply(&context)
                } catch {
                    write.fail(error)
                    try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT redml_write").execute()
                }
                try db.cachedStatement(sql: "RELEASE SAVEPOINT redml_write").execute()
            }
        }
        if context.advanced {
            try db.cachedStatement(sql: "UPDATE ml_state SET revision = ? WHERE id = 1")
                .execute(arguments: [context.revision])
        }
    }
}

/// A write waiting to be committed, with its outcome once it has been.
private protocol PendingWrite: AnyObject, Sendable {
    func apply(_ context: inout SQLiteWriteContext) throws
    func fail(_ error: any Error)
}

private final class Write<T: Sendable>: PendingWrite {
    private let body: @Sendable (inout SQLiteWriteContext) throws -> T
    private let outcome = Mutex<Result<T, any Error>?>(nil)

    init(_ body: @escaping @Sendable (inout SQLiteWriteContext) throws -> T) {
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

    func fail(_ error: any Error) {
        outcome.withLock { $0 = .failure(error) }
    }

    func result() throws -> T {
        guard let outcome = outcome.withLock({ $0 }) else {
            throw MLPersistenceError.backend("internal error: a write finished without an outcome")
        }
        return try outcome.get()
    }
}
