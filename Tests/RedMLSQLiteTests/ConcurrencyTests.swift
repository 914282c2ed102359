import Foundation
import RedML
import Synchronization
import Testing

/// How the store's writes share Swift's cooperative thread pool with other tasks.
@Suite("Cooperative scheduling")
struct ConcurrencyTests {
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func increment() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    /// Runs every job on one serial queue: a one-thread pool of its own, so the test
    /// does not depend on what the rest of the suite does with the shared pool.
    final class OneThreadExecutor: TaskExecutor {
        private let queue = DispatchQueue(label: "redml.tests.one-thread")

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    @Test("a loop of writes on a one-thread executor lets another task on it run")
    func writersDoNotStarveOtherTasks() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMLPersistence(path: directory.path("w.sqlite"))
        let executor = OneThreadExecutor()
        let stop = Flag()
        let watchdogFired = Flag()
        let started = Counter()
        // A real thread ends the writer whatever happens, 30 s after it started: a writer
        // that never suspends would hold the executor's only thread until then. (5 s was
        // once too short under a load average of 20, with every durable write slow.)
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(10)
            while started.count < 1 && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
            Thread.sleep(forTimeInterval: 30)
            if !stop.isSet { watchdogFired.set() }
            stop.set()
        }
        watchdog.start()
        let writer = Task(executorPreference: executor) {
            started.increment()
            var count = 0
            while !stop.isSet {
                try await store.put(namespace: "w", key: "k\(count % 100)", value: "{}")
                count += 1
            }
            return count
        }
        while started.count < 1 { try await Task.sleep(for: .milliseconds(1)) }
        // Another task on the same single thread: it runs only when the writer yields. It notes
        // whether it ran while the writer was still writing, or only once the watchdog stopped it.
        let ranBesideTheWriter = await Task(executorPreference: executor) { !stop.isSet }.value
        stop.set()
        let writes = try await writer.value
        try store.close()
        #expect(writes > 0)
        // Regression: a write that finds the writer idle commits on the calling thread and
        // never suspends, so a loop of writes once held its thread until the watchdog fired.
        #expect(ranBesideTheWriter, "the other task ran only after the watchdog stopped the writer (\(writes) writes)")
        #expect(!watchdogFired.isSet, "the watchdog had to stop the writer")
    }
}
