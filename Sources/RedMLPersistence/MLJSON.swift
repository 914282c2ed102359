import Foundation
import RedMLCore

/// Decodes and encodes the JSON values that RedML stores, turning a value
/// that is not what its reader expects into a corruption error that names the
/// namespace and the key, so that one bad record can be reported and skipped.
public enum MLJSON {
    /// Decodes `value`, stored at `(namespace, key)`, as a `T`.
    ///
    /// - Throws: ``MLPersistenceError/corruption(_:)`` naming the record.
    public static func decode<T: Decodable>(
        _ type: T.Type, from value: String, namespace: String, key: String
    ) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(value.utf8))
        } catch let error as DecodingError {
            throw MLPersistenceError.corruptValue(
                namespace: namespace, key: key, reason: "expected \(T.self) JSON: \(describe(error, in: value))")
        } catch {
            throw MLPersistenceError.corruptValue(
                namespace: namespace, key: key, reason: "expected \(T.self) JSON: \(error)")
        }
    }

    /// Encodes `value` as a compact JSON string with sorted keys.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes every entry, separating the records that decode from the corrupt ones.
    public static func decodeAll<T: Decodable>(
        _ type: T.Type, entries: [(key: String, value: String)], namespace: String
    ) -> (values: [(key: String, value: T)], corrupt: [MLPersistenceError]) {
        var values: [(key: String, value: T)] = []
        var corrupt: [MLPersistenceError] = []
        for entry in entries {
            do {
                values.append((entry.key, try decode(T.self, from: entry.value, namespace: namespace, key: entry.key)))
            } catch let error as MLPersistenceError {
                corrupt.append(error)
            } catch {
                corrupt.append(.corruptValue(namespace: namespace, key: entry.key, reason: "\(error)"))
            }
        }
        return (values, corrupt)
    }

    private static func describe(_ error: DecodingError, in value: String) -> String {
        switch error {
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            "field '\(path(context))': \(context.debugDescription)"
        case .dataCorrupted(let context):
            // Foundation says "not valid JSON" also for a number that does not fit its field.
            if let problem = MLJSONSyntaxCheck.firstProblem(in: value) {
                "not valid JSON: \(problem)"
            } else if context.underlyingError == nil {
                "the JSON is well formed, but a number in it does not fit its field (negative, fractional or "
                    + "too large where a whole number is expected)"
            } else {
                "not valid JSON (\(context.debugDescription))"
            }
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
            type == [String: Any].self ? "the record is not a JSON object" : "the record is not a \(type)"
        case .typeMismatch(let type, let context):
            "field '\(path(context))' is not a \(type)"
        case .valueNotFound(let type, let context):
            "field '\(path(context))' is null, expected \(type)"
        @unknown default: "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}
