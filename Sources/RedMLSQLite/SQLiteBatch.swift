import Foundation
import GRDB
import RedMLPersistence

/// Applies an ``MLBatch`` inside a write transaction.
///
/// The batch runs in its own savepoint (the group committer provides it when it
/// shares the transaction), so a failed condition rolls back every operation
/// of the batch and nothing else.
enum SQLiteBatch {
    static func apply(_ batch: MLBatch, in context: inout SQLiteWriteContext) throws -> Int64 {
        let db = context.db
        let revision = try context.nextRevision()
        let upsert = try SQLiteStatements.upsertStatement(db)
        for operation in batch.operations {
            switch operation {
            case .put(let namespace, let key, let value, let condition):
                try put(db, upsert, namespace, key, value, condition, revision: revision)
            case .delete(let namespace, let key, let condition):
                try delete(db, namespace, key, condition)
            case .require(let namespace, let key, let condition):
                try check(db, namespace, key, condition)
            case .commitBlob(let blob):
                try SQLiteBlobs.commit(db, blob)
            case .deleteBlob(let sha256):
                try SQLiteBlobs.delete(db, sha256: sha256)
            }
        }
        return revision
    }

    // A condition is checked by the write itself where one statement can (an UPDATE or
    // DELETE that names the revision, an INSERT that does nothing on a conflict): a
    // separate SELECT per condition was a third of a queue transition's statements. Only
    // when the write changes nothing is the row read, to report what was found.

    private static func put(
        _ db: Database, _ upsert: Statement, _ namespace: String, _ key: String, _ value: String,
        _ condition: MLCondition, revision: Int64
    ) throws {
        switch condition.requirement {
        case .none:
            try SQLiteStatements.upsert(upsert, namespace, key, value, revision: revision)
        case .absent:
            try SQLiteStatements.insertIfAbsent(db, namespace, key, value, revision: revision)
            if db.changesCount == 0 { try conflict(db, namespace, key, condition) }
        case .present:
            try SQLiteStatements.update(db, namespace, key, value, revision: revision, ifRevision: nil)
            if db.changesCount == 0 { try conflict(db, namespace, key, condition) }
        case .revision(let expected):
            try SQLiteStatements.update(db, namespace, key, value, revision: revision, ifRevision: expected.rawValue)
            if db.changesCount == 0 { try conflict(db, namespace, key, condition) }
        }
    }

    private static func delete(_ db: Database, _ namespace: String, _ key: String, _ condition: MLCondition) throws {
        switch condition.requirement {
        case .none:
            try SQLiteStatements.delete(db, namespace, key)
        case .absent:
            // Deleting what must not be there deletes nothing; only the check remains.
            try check(db, namespace, key, condition)
        case .present:
            try SQLiteStatements.delete(db, namespace, key)
            if db.changesCount == 0 { try conflict(db, namespace, key, condition) }
        case .revision(let expected):
            try SQLiteStatements.delete(db, namespace, key, ifRevision: expected.rawValue)
            if db.changesCount == 0 { try conflict(db, namespace, key, condition) }
        }
    }

    private static func check(_ db: Database, _ namespace: String, _ key: String, _ condition: MLCondition) throws {
        if case .none = condition.requirement { return }
        let current = try SQLiteStatements.revision(db, namespace, key).map(MLRevision.init(rawValue:))
        guard condition.isSatisfied(by: current) else {
            throw MLPersistenceError.conflict(namespace: namespace, key: key, expected: condition, found: current)
        }
    }

    /// Throws the conflict of a conditional write that changed nothing, with the revision found.
    private static func conflict(
        _ db: Database, _ namespace: String, _ key: String, _ condition: MLCondition
    ) throws -> Never {
        let current = try SQLiteStatements.revision(db, namespace, key).map(MLRevision.init(rawValue:))
        throw MLPersistenceError.conflict(namespace: namespace, key: key, expected: condition, found: current)
    }
}
