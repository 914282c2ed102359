import RedMLPersistence

/// Throws ``MLConformanceFailure`` with `message` unless `condition` holds.
public func expect(
    _ condition: Bool, _ message: @autoclosure () -> String,
    file: String = #fileID, line: UInt = #line
) throws {
    guard condition else { throw MLConformanceFailure(message(), file: file, line: line) }
}

/// Throws ``MLConformanceFailure`` unless `actual == expected`; the message names `what`,
/// the expected value and the value found.
public func expectEqual<T: Equatable>(
    _ actual: T, _ expected: T, _ what: @autoclosure () -> String,
    file: String = #fileID, line: UInt = #line
) throws {
    guard actual == expected else {
        throw MLConformanceFailure(
            "\(what()): expected \(String(reflecting: expected)), found \(String(reflecting: actual))",
            file: file, line: line)
    }
}

/// Returns `value` unwrapped, or throws ``MLConformanceFailure`` saying that `what` was missing.
public func expectNotNil<T>(
    _ value: T?, _ what: @autoclosure () -> String,
    file: String = #fileID, line: UInt = #line
) throws -> T {
    guard let value else {
        throw MLConformanceFailure("\(what()): expected a value, found nil", file: file, line: line)
    }
    return value
}

/// Runs `body` and returns the ``MLPersistenceError`` it throws, or throws
/// ``MLConformanceFailure`` if it succeeds or throws anything other than an
/// ``MLPersistenceError`` with this ``MLPersistenceError/code``.
@discardableResult
public func expectThrows(
    code: String, _ what: @autoclosure () -> String,
    file: String = #fileID, line: UInt = #line,
    _ body: () async throws -> Void
) async throws -> MLPersistenceError {
    do {
        try await body()
    } catch let error as MLPersistenceError {
        guard error.code == code else {
            throw MLConformanceFailure(
                "\(what()): expected an error with code \"\(code)\", found code \"\(error.code)\": \(error)",
                file: file, line: line)
        }
        return error
    } catch {
        throw MLConformanceFailure(
            "\(what()): expected MLPersistenceError with code \"\(code)\", found \(type(of: error)): \(error)",
            file: file, line: line)
    }
    throw MLConformanceFailure(
        "\(what()): expected an error with code \"\(code)\", but it succeeded", file: file, line: line)
}
