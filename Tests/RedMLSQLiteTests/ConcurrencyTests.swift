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

    @Test("sequential writers on as many stores as there are cores do not starve other tasks")
    func writersDoNotStarveOtherTasks() async throws {
        let directory = try TemporaryDirectory()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let stores = try (0..<cores).map { try SQLiteMLPersistence(path: directory.path("w\($0).sqlite")) }
        let stop = Flag()
        let started = Counter()
        // A real thread, outside the cooperative pool, ends the writers whatever happens:
        // 2 s after they have all started (or after 10 s if some never do).
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(10)
            while started.count < cores && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
            Thread.sleep(forTimeInterval: 2)
            stop.set()
        }
        watchdog.start()
        let begin = ContinuousClock.now
        let writers = stores.map { store in
            Task {
                started.increment()
                var count = 0
                while !stop.isSet {
                    try await store.put(namespace: "w", key: "k\(count % 100)", value: "{}")
                    count += 1
                }
                return count
            }
        }
        // Wait until every writer runs, then sleep briefly: only a starved task takes long.
        while started.count < cores && ContinuousClock.now - begin < .seconds(10) {
            try await Task.sleep(for: .milliseconds(1))
        }
        let sleepStart = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(20))
        let slept = ContinuousClock.now - sleepStart
        let waited = ContinuousClock.now - begin
        stop.set()
        var total = 0
        for writer in writers { total += try await writer.value }
        #expect(total > 0)
        for store in stores { try store.close() }
        // Regression: a write that finds the writer idle commits on the calling thread and
        // never suspends, so loops of writes once held every cooperative thread; the store
        // now yields every few such writes.
        // Starved, the 20 ms sleep would end only when the watchdog stops the writers (2 s).
        #expect(slept < .milliseconds(900), "a 20 ms sleep beside \(cores) writers took \(slept) (all: \(waited))")
    }
}
