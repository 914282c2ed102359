import Foundation
import Synchronization
import Testing

@testable import RedMLCLI

/// Stopping the background task that runs a command's connection pool.
@Suite("BoundedTask")
struct BoundedTaskTests {
    @Test("a task that ends when cancelled is stopped and reported as ended")
    func stopsACancellableTask() async throws {
        let started = AsyncStream<Void>.makeStream()
        let task = BoundedTask {
            started.continuation.finish()
            try? await Task.sleep(for: .seconds(600))
        }
        for await _ in started.stream {}
        let clock = ContinuousClock()
        let begun = clock.now
        #expect(await task.stop(waitingAtMost: .seconds(30)))
        #expect(clock.now - begun < .seconds(10))
    }

    @Test("a task that ignores cancellation is given up on when the limit is reached, and keeps running")
    func givesUpOnATaskThatDoesNotEnd() async throws {
        let ended = Flag()
        let task = BoundedTask {
            // Waits 30 s whatever happens, as a connection that never answers would: far longer
            // than any wait below, even on a machine the rest of the suite keeps busy.
            await withCheckedContinuation { continuation in
                DispatchQueue.global().asyncAfter(deadline: .now() + 30) { continuation.resume() }
            }
            ended.set()
        }
        let clock = ContinuousClock()
        let begun = clock.now
        #expect(await task.stop(waitingAtMost: .milliseconds(200)) == false)
        let waited = clock.now - begun
        #expect(waited >= .milliseconds(200) && waited < .seconds(15), "waited \(waited)")
        #expect(ended.isSet == false)
    }

    /// A flag the task sets after the test has stopped waiting for it.
    private final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }
}
