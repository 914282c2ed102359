import Foundation
import RedML
import RedMLTrainer
import Testing

struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Waits, in real time, until `condition` holds: checks every 10 ms, fails the test after `timeout`.
func eventually(
    _ what: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while true {
        if try await condition() { return }
        if clock.now >= deadline {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            throw TimedOut(description: what)
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Waits until job `id` satisfies `predicate`; returns the record that did.
@discardableResult
func waitForJob(
    _ queue: MLJobQueue, _ id: UInt128, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    until predicate: (MLJob) -> Bool
) async throws -> MLJob {
    var last: MLJob?
    do {
        try await eventually(what, sourceLocation: sourceLocation) {
            last = try await queue.job(id)
            return last.map(predicate) ?? false
        }
    } catch {
        Issue.record("last seen: \(last.map { "\($0.status), progress \($0.progress), error \($0.error ?? "-")" } ?? "nothing")",
                     sourceLocation: sourceLocation)
        throw error
    }
    return last!
}

/// A CSV document from lines.
func csv(_ lines: String...) -> Data {
    Data(lines.joined(separator: "\n").utf8)
}

/// Runs `body`, which must throw an ``MLTrainerError`` with `code`; returns it.
@discardableResult
func expectTrainerError<R>(
    _ code: MLTrainerError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> MLTrainerError? {
    do {
        let result = try body()
        Issue.record("expected error \(code), but the call returned \(result)", sourceLocation: sourceLocation)
        return nil
    } catch let error as MLTrainerError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected MLTrainerError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A small configuration for tests that do not measure accuracy.
func quickConfiguration(epochs: Int = 40, checkpointEvery: Int = 10) -> MLTrainingConfiguration {
    var configuration = MLTrainingConfiguration()
    configuration.epochs = epochs
    configuration.checkpointEvery = checkpointEvery
    return configuration
}
