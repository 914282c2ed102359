import Foundation
import RedML

/// Registration, pointer lookups, large weights and opening a big registry (issue #3).
///
/// The seed system's registry, built in Rust and run on this machine, registers
/// 14–17k versions/s (1 KiB weights, in memory), resolves the active version
/// 3.6–3.9M times/s, and registers a 64 MiB model in 3.4 s with 514 MiB peak memory.
struct RegistryBenchmark: Sendable {
    let options: BenchOptions

    func run() async throws {
        if options.runs("memory") { try await measureMemory() }
        if options.runs("sqlite") { try await measureSQLite() }
        if options.runs("weights") { try await measureLargeWeights() }
        if options.runs("open") { try await measureOpen() }
    }

    private func emit(_ figure: Figure) { figure.emit() }

    // MARK: In memory

    private func measureMemory() async throws {
        let count = options.quick ? 10_000 : 100_000
        let weights = (0..<count).map(Self.weights)
        var rates: [Double] = []
        var registry = MLModelRegistry(store: InMemoryMLPersistence())
        for _ in 0..<3 {
            registry = MLModelRegistry(store: InMemoryMLPersistence())
            // The caller's registration is built once, like the weights, so that the figure is the registry's.
            let registration = Self.registration(0)
            let seconds = try await measure {
                for i in 0..<count {
                    _ = try await registry.register(registration, weights: weights[i])
                }
            }
            rates.append(Double(count) / seconds)
        }
        emit(.rate("registry", "memory", "register_1KiB", median(of: rates), count,
                   target: ">= 140k versions/s (10x the seed's 14k)"))

        let calls = options.quick ? 200_000 : 2_000_000
        var found = 0
        let seconds = try await measure {
            for _ in 0..<calls where try await registry.activeVersion(of: "bench") != nil {
                found += 1
            }
        }
        precondition(found == calls)
        emit(.rate("registry", "memory", "get_active", Double(calls) / seconds, calls,
                   target: ">= 3.6M/s (1x the seed's 3.6M)"))

        let lookups = options.quick ? 20_000 : 200_000
        let byNumber = try await measure {
            for i in 0..<lookups {
                _ = try await registry.version("bench", UInt32(i % count + 1))
            }
        }
        emit(.rate("registry", "memory", "get_version_by_number", Double(lookups) / byNumber, lookups, target: nil))
    }

    // MARK: SQLite

    private func measureSQLite() async throws {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let store = try SQLiteMLPersistence(path: folder.path("registry.sqlite"))
        let registry = MLModelRegistry(store: store)
        let count = options.quick ? 2_000 : 20_000
        let weights = (0..<count).map(Self.weights)
        let seconds = try await measure {
            for i in 0..<count {
                _ = try await registry.register(Self.registration(i), weights: weights[i])
            }
        }
        emit(.rate("registry", "sqlite", "register_1KiB", Double(count) / seconds, count, target: ">= 5k versions/s"))

        // Eight callers registering versions of eight models: their writes share group commits.
        // New weights, as above: the first run's would each be a duplicate, which costs a
        // registration a second attempt that reads the weights' reference count first.
        let newWeights = (count..<2 * count).map(Self.weights)
        let callers = 8
        let concurrent = try await measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        for i in stride(from: caller, to: count, by: callers) {
                            var registration = Self.registration(i)
                            registration.model = "bench-\(caller)"
                            _ = try await registry.register(registration, weights: newWeights[i])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        emit(.rate("registry", "sqlite", "register_1KiB_8_callers", Double(count) / concurrent, count,
                   target: ">= 5k versions/s"))

        let calls = options.quick ? 20_000 : 200_000
        let active = try await measure {
            for _ in 0..<calls { _ = try await registry.activeVersion(of: "bench") }
        }
        emit(.rate("registry", "sqlite", "get_active", Double(calls) / active, calls, target: nil))
        try store.close()
    }

    // MARK: Large weights

    private func measureLargeWeights() async throws {
        let sizes = options.quick ? [64 << 20, 256 << 20] : [64 << 20, 1 << 30]
        for size in sizes {
            let folder = try BenchFolder()
            defer { folder.remove() }
            let store = try SQLiteMLPersistence(path: folder.path("weights.sqlite"))
            let registry = MLModelRegistry(store: store)
            let baseline = ProcessMemory.resident
            ProcessMemory.resetPeak()
            let seconds = try await measure {
                _ = try await registry.register(
                    MLRegistration(model: "large"), weights: PatternBytes(total: size, bufferSize: 1 << 20))
            }
            let growth = ProcessMemory.peak - baseline
            let label = size >= 1 << 30 ? "\(size >> 30)GiB" : "\(size >> 20)MiB"
            let limit = size == 64 << 20 ? "< 0.3 s" : size == 1 << 30 ? "< 5 s" : nil
            emit(Figure(suite: "registry", backend: "sqlite", figure: "register_\(label)", value: (seconds * 1000).rounded() / 1000,
                        unit: "s", operations: 1, seconds: seconds, target: limit))
            emit(.mebibytes("registry", "sqlite", "register_\(label)_peak_memory_growth", growth, target: "< 32 MiB"))
            try store.close()
        }
    }

    // MARK: Opening

    private func measureOpen() async throws {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let path = folder.path("open.sqlite")
        let count = options.quick ? 10_000 : 100_000
        do {
            let store = try SQLiteMLPersistence(path: path)
            let registry = MLModelRegistry(store: store)
            note("registering \(count) versions for the open benchmark…")
            for i in 0..<count {
                _ = try await registry.register(Self.registration(i), weights: Self.weights(i))
            }
            try store.close()
        }
        var times: [Double] = []
        for _ in 0..<5 {
            var store: SQLiteMLPersistence?
            let seconds = try await measure {
                let opened = try SQLiteMLPersistence(path: path)
                let registry = MLModelRegistry(store: opened)
                let active = try await registry.activeVersion(of: "bench")
                precondition(active?.version == UInt32(count))
                _ = try await registry.version("bench", 1)
                store = opened
            }
            try store?.close()
            times.append(seconds)
        }
        emit(.milliseconds("registry", "sqlite", "open_registry_\(count / 1000)k_versions_first_lookup",
                           median(of: times), target: count == 100_000 ? "< 50 ms" : nil))
    }

    // MARK: Workload

    static func registration(_ i: Int) -> MLRegistration {
        MLRegistration(model: "bench", hyperparameters: ["lr": 0.01, "epochs": 10], metrics: ["accuracy": .double(0.9)],
                       createdBy: "bench")
    }

    /// 1 KiB of weights, distinct for each `i`.
    static func weights(_ i: Int) -> Data {
        var data = Data(repeating: 0x5A, count: 1_024)
        withUnsafeBytes(of: UInt64(i).littleEndian) { data.replaceSubrange(0..<8, with: $0) }
        return data
    }
}
