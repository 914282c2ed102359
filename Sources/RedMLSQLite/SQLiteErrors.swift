import GRDB
import RedMLPersistence

/// Turns whatever a database call threw into an ``MLPersistenceError``.
///
/// SQL arguments never reach the message (GRDB keeps them out of
/// `DatabaseError.description` unless asked), so values cannot leak into logs.
func persistenceError(_ error: any Error, store: String) -> MLPersistenceError {
    switch error {
    case let error as MLPersistenceError:
        return error
    case let error as DatabaseError:
        return .backend("sqlite \(store): \(describe(error))")
    default:
        return .backend("sqlite \(store): \(error)")
    }
}

/// SQLite's message and extended result code: `file is not a database (SQLite code 26)`.
func describe(_ error: DatabaseError) -> String {
    "\(error.message ?? "\(error.resultCode)") (SQLite code \(error.extendedResultCode.rawValue))"
}
