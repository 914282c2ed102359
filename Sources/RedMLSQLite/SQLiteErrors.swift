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
        let message = error.message ?? "\(error.resultCode)"
        return .backend("sqlite \(store): \(message) (SQLite code \(error.extendedResultCode.rawValue))")
    default:
        return .backend("sqlite \(store): \(error)")
    }
}
