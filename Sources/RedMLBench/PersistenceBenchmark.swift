import Foundation
import RedML
import Synchronization

/// Put, get, list and paged list on every embedded backend, and a large blob.
///
/// The workload follows issue #2: 100k entries of about 300 bytes in the
/// measured namespace, with a second namespace holding 100k more.
struct PersistenceBenchmark: Sendable {
    let options: BenchOptions

    var entryCount: Int { options.quick ? 10_000 : 100_000 }
    var blobBytes: Int { options.quick ? 128 << 20 : 1 << 30 }

    func run() async throws {
        let workload = Workload(count: entryCount)
        if options.runs("memory") {
            try await measureMemory(workload)
        }
        if options.runs("sqlite") {
            try await measureSQLite(workload)
        }
        if options.runs("blob") {
            try await measureBlob()
        }
    }

    // MARK: In-memory

    private func measureMemory(_ workload: Workload) async throws {
        var putRates: [Double] = []
        var store = InMemoryMLPersistence()
        for _ in 0..<3 {
            store = InMemoryMLPersistence()
            try await workload.fill(store, namespace: "other")
            let seconds = try await measure {
                for i in 0..<workload.count {
                    try await store.put(namespace: "jobs", key: workload.keys[i], value: workload.values[i])
                }
            }
            putRates.append(Double(workload.count) / seconds)
        }
        emitRate("memory", "put", median(of: putRates), workload.count, target: ">= 2.4M ops/s (2x the seed's 1.2M)")
        try await measureReads(store, backend: "memory", workload: workload, getRounds: 5, listCalls: 100_000,
                               targets: (get: ">= 5.4M ops/s (2x the seed's 2.7M)", list: "< 20 us"))
    }

    // MARK: SQLite

    private func measureSQLite(_ workload: Workload) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redml-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteMLPersistence(path: folder.appendingPathComponent("bench.sqlite").path)

        try await workload.fill(store, namespace: "other")
        let batchSize = 1_000
        let batched = try await measure {
            for start in stride(from: 0, to: workload.count, by: batchSize) {
                var batch = MLBatch()
                for i in start..<min(start + batchSize, workload.count) {
                    batch.put(namespace: "jobs", key: workload.keys[i], value: workload.values[i])
                }
                try await store.commit(batch)
            }
        }
        emitRate("sqlite", "put_batched_1000", Double(workload.count) / batched, workload.count, target: ">= 200k puts/s")

        let sequentialCount = workload.count / 5
        let sequential = try await measure {
            for i in 0..<sequentialCount {
                try await store.put(namespace: "sequential", key: workload.keys[i], value: workload.values[i])
            }
        }
        emitRate("sqlite", "put_sequential_acknowledged", Double(sequentialCount) / sequential, sequentialCount,
                 target: ">= 15k puts/s")

        // Eight callers share one rising key sequence, as time-ordered job ids do;
        // a second run gives each caller its own key range, so every commit
        // touches up to eight leaf pages (the worst case).
        let callers = 8
        let concurrentCount = workload.count / 5
        let shared = try await concurrentPuts(store, workload, namespace: "concurrent", callers: callers,
                                              count: concurrentCount, disjointRanges: false)
        emitRate("sqlite", "put_concurrent_8_callers_acknowledged", Double(concurrentCount) / shared,
                 concurrentCount, target: ">= 40k puts/s")
        let disjoint = try await concurrentPuts(store, workload, namespace: "concurrent_ranges", callers: callers,
                                                count: concurrentCount, disjointRanges: true)
        emitRate("sqlite", "put_concurrent_8_callers_disjoint_key_ranges", Double(concurrentCount) / disjoint,
                 concurrentCount, target: nil)

        try await measureReads(store, backend: "sqlite", workload: workload, getRounds: 1, listCalls: 10_000,
                               targets: (get: nil, list: nil))
        try store.close()
    }

    /// Times `count` acknowledged puts from `callers` concurrent tasks.
    private func concurrentPuts(
        _ store: SQLiteMLPersistence, _ workload: Workload, namespace: String, callers: Int, count: Int,
        disjointRanges: Bool
    ) async throws -> Double {
        let ticket = Ticket()
        let perCaller = count / callers
        return try await measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        for i in 0..<perCaller {
                            let index = disjointRanges ? caller * perCaller + i : ticket.next()
                            try await store.put(namespace: namespace, key: workload.keys[index], value: workload.values[index])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    // MARK: Reads, shared by both backends

    private func measureReads(
        _ store: some MLStore, backend: String, workload: Workload, getRounds: Int, listCalls: Int,
        targets: (get: String?, list: String?)
    ) async throws {
        let order = workload.keys.shuffled()
        var found = 0
        let gets = try await measure {
            for _ in 0..<getRounds {
                for key in order where try await store.get(namespace: "jobs", key: key) != nil {
                    found += 1
                }
            }
        }
        precondition(found == getRounds * order.count, "\(backend) get found \(found) of \(getRounds * order.count)")
        emitRate(backend, "get_random_order", Double(found) / gets, found, target: targets.get)

        // The same gets in the order the keys were written: a cache-friendly walk.
        found = 0
        let inOrder = try await measure {
            for _ in 0..<getRounds {
                for key in workload.keys where try await store.get(namespace: "jobs", key: key) != nil {
                    found += 1
                }
            }
        }
        emitRate(backend, "get_insertion_order", Double(found) / inOrder, found, target: targets.get)

        for i in 0..<100 {
            try await store.put(namespace: "small", key: workload.keys[i], value: workload.values[i])
        }
        var listed = 0
        let lists = try await measure {
            for _ in 0..<listCalls { listed += try await store.list(namespace: "small").count }
        }
        precondition(listed == listCalls * 100, "\(backend) list returned \(listed)")
        emitLatency(backend, "list_100_of_200k", lists / Double(listCalls), listCalls, target: targets.list)

        let cursors = (0..<listCalls).map { _ in workload.keys[Int.random(in: 0..<workload.count)] }
        var paged = 0
        _ = try await store.page(namespace: "jobs", MLPageRequest(limit: 1))  // the first page merges new keys
        let pages = try await measure {
            for cursor in cursors {
                paged += try await store.page(namespace: "jobs", MLPageRequest(after: cursor, limit: 100)).entries.count
            }
        }
        precondition(paged > 0, "\(backend) paging returned nothing")
        emitLatency(backend, "page_100_of_100k", pages / Double(listCalls), listCalls, target: nil)
    }

    // MARK: Blob

    private func measureBlob() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redml-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteMLPersistence(path: folder.appendingPathComponent("blob.sqlite").path)
        let mebibytes = Double(blobBytes) / Double(1 << 20)

        let baseline = ProcessMemory.resident
        ProcessMemory.resetPeak()
        var staged: MLStagedBlob?
        let write = try await measure {
            let blob = try await store.writeBlob(PatternBytes(total: blobBytes, bufferSize: 1 << 20))
            var batch = MLBatch()
            batch.put(namespace: "models", key: "bench", value: #"{"weights":"\#(blob.sha256)"}"#)
            batch.commitBlob(blob)
            try await store.commit(batch)
            staged = blob
        }
        let writePeak = ProcessMemory.peak - baseline
        Figure(backend: "sqlite", figure: "blob_write_\(blobBytes >> 20)MiB", value: (mebibytes / write).rounded(),
               unit: "MiB/s", operations: 1, seconds: write, target: ">= 300 MB/s (286 MiB/s) including SHA-256").emit()
        emitBytes("sqlite", "blob_write_peak_memory_growth", writePeak, target: "< 64 MiB")

        ProcessMemory.resetPeak()
        let readBaseline = ProcessMemory.resident
        var readBytes = 0
        let read = try await measure {
            for try await chunk in try await store.readBlob(sha256: staged!.sha256) { readBytes += chunk.count }
        }
        precondition(readBytes == blobBytes, "read back \(readBytes) of \(blobBytes) bytes")
        Figure(backend: "sqlite", figure: "blob_read_verified_\(blobBytes >> 20)MiB", value: (mebibytes / read).rounded(),
               unit: "MiB/s", operations: 1, seconds: read, target: ">= 300 MB/s (286 MiB/s) including SHA-256").emit()
        emitBytes("sqlite", "blob_read_peak_memory_growth", ProcessMemory.peak - readBaseline, target: "< 64 MiB")
        try store.close()
    }

    // MARK: Output

    private func emitRate(_ backend: String, _ name: String, _ rate: Double, _ operations: Int, target: String?) {
        Figure.rate("persistence", backend, name, rate, operations, target: target).emit()
    }

    private func emitLatency(_ backend: String, _ name: String, _ seconds: Double, _ calls: Int, target: String?) {
        Figure.latency("persistence", backend, name, seconds, calls, target: target).emit()
    }

    private func emitBytes(_ backend: String, _ name: String, _ bytes: Int, target: String?) {
        Figure.mebibytes("persistence", backend, name, bytes, target: target).emit()
    }
}

/// Keys and 300-byte JSON values, generated once before any timing.
struct Workload: Sendable {
    let count: Int
    let keys: [String]
    let values: [String]

    init(count: Int) {
        self.count = count
        keys = (0..<count).map { String(format: "entry-%08d", $0) }
        let padding = String(repeating: "x", count: 220)
        values = (0..<count).map {
            #"{"id":\#($0),"kind":"train","status":"queued","progress":0,"spec":{"note":"\#(padding)"}}"#
        }
    }

    /// Fills a second namespace, so the measured one is not alone in the store.
    func fill(_ store: some MLStore, namespace: String) async throws {
        for start in stride(from: 0, to: count, by: 1_000) {
            var batch = MLBatch()
            for i in start..<min(start + 1_000, count) {
                batch.put(namespace: namespace, key: keys[i], value: values[i])
            }
            try await store.commit(batch)
        }
    }
}

/// `total` bytes of a cheap pattern, in buffers of `bufferSize`.
struct PatternBytes: AsyncSequence, Sendable {
    typealias Element = Data
    let total: Int
    let bufferSize: Int

    func makeAsyncIterator() -> Iterator {
        Iterator(remaining: total, buffer: Data((0..<bufferSize).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
    }

    struct Iterator: AsyncIteratorProtocol {
        var remaining: Int
        var buffer: Data
        var counter: UInt64 = 0

        mutating func next() async throws -> Data? {
            guard remaining > 0 else { return nil }
            let size = Swift.min(remaining, buffer.count)
            remaining -= size
            counter += 1
            withUnsafeBytes(of: counter) { buffer.replaceSubrange(0..<8, with: $0) }
            return size == buffer.count ? buffer : buffer.prefix(size)
        }
    }
}

/// Hands out 0, 1, 2, … to concurrent callers.
final class Ticket: Sendable {
    private let counter = Atomic<Int>(0)

    func next() -> Int { counter.add(1, ordering: .relaxed).oldValue }
}
