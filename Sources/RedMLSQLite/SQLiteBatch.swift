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
                try check(db, namespace, key, condition)
                try SQLiteStatements.upsert(upsert, namespace, key, value, revision: revision)
            case .delete(let namespace, let key, let condition):
                try check(db, namespace, key, condition)
                try SQLiteStatements.delete(db, namespace, key)
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

    private static func check(_ db: Database, _ namespace: String, _ key: String, _ condition: MLCondition) throws {
        if case .none = condition.requirement { return }
        let current = try SQLiteStatements.revision(db, namespace, key).map(MLRevision.init(rawValue:))
        guard condition.isSatisfied(by: current) else {
            throw MLPersistenceError.conflict(namespace: namespace, key: key, expected: condition, found: current)
        }
    }
}
