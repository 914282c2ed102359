import Foundation

/// wrk, the HTTP load generator, run as a child process.
struct Wrk: Sendable {
    /// How hard wrk pushes: its threads, open connections and run time.
    struct Load: Sendable {
        var threads: Int
        var connections: Int
        var seconds: Int
    }

    let executable: URL

    /// wrk from `PATH`, or `nil` when it is not installed.
    static func find() -> Wrk? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("wrk")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return Wrk(executable: candidate) }
        }
        return nil
    }

    /// Runs wrk against `url` with `--latency` and parses its report.
    ///
    /// wrk writes to the file at `outputPath` rather than a pipe, and its exit is
    /// awaited through the termination handler: nothing blocks one of the few
    /// cooperative threads that the server under test also needs.
    func run(url: String, load: Load, headers: [String], script: String?, outputPath: String) async throws -> WrkReport {
        var arguments = ["--threads", "\(load.threads)", "--connections", "\(load.connections)",
                         "--duration", "\(load.seconds)s", "--latency"]
        for header in headers { arguments += ["--header", header] }
        if let script { arguments += ["--script", script] }
        arguments.append(url)

        guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
            throw BenchError(code: "wrk_output", message: "could not create wrk's output file at \(outputPath)")
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: BenchError(
                    code: "wrk_launch", message: "could not start \(executable.path) for \(url)", underlying: error))
            }
        }
        let text = try String(contentsOfFile: outputPath, encoding: .utf8)
        guard status == 0 else {
            throw BenchError(code: "wrk_failed", message: "wrk exited with status \(status) for \(url); its output:\n\(text)")
        }
        return try WrkReport(parsing: text, url: url)
    }
}

/// The figures of one wrk run, read from its `--latency` report.
struct WrkReport: Sendable {
    /// Requests completed during the run.
    var requests: Int
    /// The run's measured length in seconds.
    var seconds: Double
    /// wrk's `Requests/sec`.
    var requestsPerSecond: Double
    /// Median latency in seconds.
    var p50: Double
    /// 99th-percentile latency in seconds.
    var p99: Double
    /// Responses outside 2xx/3xx (0 when wrk printed no such line).
    var failedResponses: Int
    /// wrk's `Socket errors:` line, when it printed one.
    var socketErrors: String?

    /// Parses wrk 4's report, for example:
    ///
    /// ```
    ///   Latency Distribution
    ///      50%    1.90ms
    ///      99%    5.00ms
    ///   300000 requests in 10.01s, 100.00MB read
    ///   Non-2xx or 3xx responses: 12
    /// Requests/sec:  29970.03
    /// ```
    init(parsing text: String, url: String) throws {
        var requests: Int?, seconds: Double?, rate: Double?, p50: Double?, p99: Double?
        failedResponses = 0
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = fields.first, let last = fields.last else { continue }
            if first == "50%" { p50 = Self.duration(last) }
            if first == "99%" { p99 = Self.duration(last) }
            if fields.count >= 4, fields[1] == "requests", fields[2] == "in" {
                requests = Int(first)
                seconds = Self.duration(fields[3].trimmingCharacters(in: CharacterSet(charactersIn: ",")))
            }
            if first == "Requests/sec:" { rate = Double(last) }
            if line.hasPrefix("Non-2xx or 3xx responses:") { failedResponses = Int(last) ?? 0 }
            if line.hasPrefix("Socket errors:") { socketErrors = line }
        }
        guard let requests, let seconds, let rate, let p50, let p99 else {
            throw BenchError(
                code: "wrk_report",
                message: "wrk's report for \(url) lacks the requests, Requests/sec or 50%/99% latency lines; its output:\n\(text)")
        }
        self.requests = requests
        self.seconds = seconds
        self.requestsPerSecond = rate
        self.p50 = p50
        self.p99 = p99
    }

    /// A wrk duration such as `850.00us`, `1.90ms`, `10.01s` or `1.20m`, in seconds.
    static func duration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3_600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return nil
    }
}

/// Why a benchmark could not measure: a stable code, what went wrong and the cause.
struct BenchError: Error, CustomStringConvertible {
    var code: String
    var message: String
    var underlying: (any Error)?

    init(code: String, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    var description: String {
        "\(code): \(message)" + (underlying.map { " (\($0))" } ?? "")
    }
}
