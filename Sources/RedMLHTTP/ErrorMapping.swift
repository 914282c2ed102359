import Hummingbird
import RedMLQueue
import RedMLRegistry

/// The one place registry, queue and framework errors become HTTP statuses.
enum ErrorMapping {
    /// The API error for anything a handler threw.
    static func httpError(for error: any Error) -> MLHTTPError {
        switch error {
        case let error as MLHTTPError:
            return error
        case let error as MLRegistryError:
            return MLHTTPError(status(forRegistry: error.code.rawValue), code: error.code.rawValue,
                               message: message(for: error), underlying: error)
        case let error as MLJobError:
            return MLHTTPError(status(forQueue: error.code.rawValue), code: error.code.rawValue,
                               message: message(for: error), underlying: error)
        case let error as HTTPError:
            // Thrown by Hummingbird itself: the unmatched-route responder, mostly.
            return MLHTTPError(error.status, code: code(for: error.status),
                               message: error.body ?? error.status.reasonPhrase, headers: error.headers)
        case is CancellationError:
            return MLHTTPError(.serviceUnavailable, code: "cancelled", message: "the server is shutting down")
        default:
            return MLHTTPError(.internalServerError, code: "internal", message: "internal error: \(error)")
        }
    }

    /// A registry error's message, naming the record and what is wrong with it when the store
    /// found one corrupt: bad data an operator must find, and nothing of the server's internals,
    /// unlike a backend failure's text, which stays in the log.
    static func message(for error: MLRegistryError) -> String {
        guard let underlying = error.underlying, case .corruption = underlying else { return error.message }
        return "\(error.message): \(underlying)"
    }

    /// A queue error's message; for a job whose record cannot be read, the
    /// record (namespace/key), what is wrong with it, and where to look next.
    static func message(for error: MLJobError) -> String {
        guard error.code == .jobCorrupt, let underlying = error.underlying else { return error.message }
        return "\(error.message): \(underlying); \(damageHint)"
    }

    /// Where an operator finds and repairs a damaged record, on either durable backend.
    static let damageHint = "run `redml store check` on the store to list the damage, and repair it from a backup "
        + "with `redml store restore` (on PostgreSQL, inspect the ml_jobs view in psql and restore with pg_restore)"

    /// Registry codes by raw value, so a code added later still maps (to 500 until listed here).
    static func status(forRegistry code: String) -> HTTPResponse.Status {
        switch code {
        case "unknown_model", "unknown_version", "unknown_alias": .notFound
        case "invalid_argument": .badRequest
        case "version_archived", "version_in_use", "version_not_archived", "alias_conflict", "version_conflict",
            "contention":
            .conflict
        case "weights_deleted": .gone
        default: .internalServerError  // weights_corrupt, persistence: the server's fault, not the request's
        }
    }

    /// Queue codes by raw value.
    static func status(forQueue code: String) -> HTTPResponse.Status {
        switch code {
        case "unknown_job": .notFound
        case "invalid_argument": .badRequest
        case "no_handler", "lease_lost": .conflict
        // job_corrupt, a stored record that cannot be read: the request is fine, the server's data is not,
        // so a 5xx (as weights_corrupt); 500, not 503, since retrying cannot help until an operator repairs
        // it, and not 404 or 410, since the job exists. The code and message say which record and why.
        default: .internalServerError
        }
    }

    private static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "unknown_route"
        case .contentTooLarge: "body_too_large"
        case .badRequest: "invalid_request"
        default: "http_\(status.code)"
        }
    }
}
