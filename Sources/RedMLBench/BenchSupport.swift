import Foundation

/// Command-line options shared by the suites.
struct BenchOptions: Sendable {
    /// Smaller sizes, for a smoke run.
    var quick = false
    /// Run only the groups named here (all when empty).
    var only: Set<String> = []
    /// How many jobs a sized run uses (`--jobs N`), when it takes a size.
    var jobs: Int?
    /// Worker slots for the queue's throughput runs (`--workers N`); one per core when unset.
    var workers: Int?

    init(arguments: [String]) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--only": if let group = rest.popFirst() { only.insert(group) }
            case "--jobs": jobs = rest.popFirst().flatMap { Int($0) }.map { max(1, $0) }
            case "--workers": workers = rest.popFirst().flatMap { Int($0) }.map { max(1, $0) }
            default: FileHandle.standardError.write(Data("ignoring unknown option \(argument)\n".utf8))
            }
        }
    }

    func runs(_ group: String) -> Bool { only.isEmpty || only.contains(group) }
}

/// `POSTGRES_URL`, or `nil` after saying that `group` is skipped without it.
func postgresURL(skipping group: String) -> String? {
    if let url = ProcessInfo.processInfo.environment["POSTGRES_URL"], !url.isEmpty { return url }
    note("redml-bench: POSTGRES_URL is not set; skipping \(group) (eval \"$(scripts/postgres start)\")")
    return nil
}

/// One measured figure, printed as a line of JSON.
struct Figure: Encodable {
    var suite = "persistence"
    var backend: String
    var figure: String
    var value: Double
    var unit: String
    var operations: Int
    var seconds: Double
    var target: String?

    func emit() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = String(decoding: try! encoder.encode(self), as: UTF8.self)
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// Times `body` on the continuous clock.
func measure(_ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    let elapsed = clock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// The process's resident memory, read from /proc (Linux).
enum ProcessMemory {
    /// Current resident set size in bytes.
    static var resident: Int { field("VmRSS") }
    /// Peak resident set size in bytes since start or the last ``resetPeak()``.
    static var peak: Int { field("VmHWM") }

    /// Resets the kernel's peak-RSS mark so that the next peak is this run's own.
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    private static func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return digits * 1024
        }
        return 0
    }
}

func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

extension Figure {
    /// A throughput figure in operations per second.
    static func rate(
        _ suite: String, _ backend: String, _ name: String, _ rate: Double, _ operations: Int, target: String?
    ) -> Figure {
        Figure(suite: suite, backend: backend, figure: name, value: rate.rounded(), unit: "ops/s",
               operations: operations, seconds: Double(operations) / rate, target: target)
    }

    /// A per-call latency figure in microseconds.
    static func latency(
        _ suite: String, _ backend: String, _ name: String, _ seconds: Double, _ calls: Int, target: String?
    ) -> Figure {
        Figure(suite: suite, backend: backend, figure: name, value: (seconds * 1e8).rounded() / 100,
               unit: "us/call", operations: calls, seconds: seconds * Double(calls), target: target)
    }

    /// A memory figure in MiB.
    static func mebibytes(_ suite: String, _ backend: String, _ name: String, _ bytes: Int, target: String?) -> Figure {
        Figure(suite: suite, backend: backend, figure: name, value: (Double(bytes) / Double(1 << 20) * 10).rounded() / 10,
               unit: "MiB", operations: 1, seconds: 0, target: target)
    }

    /// A duration figure in milliseconds.
    static func milliseconds(_ suite: String, _ backend: String, _ name: String, _ seconds: Double, target: String?) -> Figure {
        Figure(suite: suite, backend: backend, figure: name, value: (seconds * 1e5).rounded() / 100, unit: "ms",
               operations: 1, seconds: seconds, target: target)
    }
}

/// The median of `values`.
func median(of values: [Double]) -> Double {
    values.sorted()[values.count / 2]
}

/// A fresh folder under the temporary directory, removed by `remove()`.
struct BenchFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("redml-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
