import Foundation
import Hummingbird
import Prometheus
import RedML
import RedMLHTTP

/// The HTTP API under load from wrk: `GET /v1/models/{name}/active` and
/// `POST /v1/jobs`, without and with a bearer token, over the in-memory store
/// and SQLite.
///
/// The API runs in this process on 127.0.0.1 (a free port), set up as
/// `redml serve` sets it up (Prometheus request counts on, no logging) but
/// without workers, so submitted jobs stay queued. wrk runs with 2 threads and
/// 64 connections for 10 s per figure (3 s with `--quick`), on the same cores
/// as the server. `--only memory|sqlite|baseline`; `baseline` measures a bare
/// Hummingbird route and RedML's `/healthz` under the same load.
struct HTTPBenchmark: Sendable {
    let options: BenchOptions

    static let model = "bench"
    static let token = "redml-bench-token-0123456789abcdef"
    static let jobBody = #"{"kind":"bench","target":"bench"}"#

    /// One way of calling the API: without a token, or with the bearer token.
    private enum Access: CaseIterable {
        case open, bearer

        var label: String { self == .open ? "no_token" : "bearer_token" }
        var token: String? { self == .open ? nil : HTTPBenchmark.token }
    }

    private var load: Wrk.Load {
        Wrk.Load(threads: 2, connections: 64, seconds: options.quick ? 3 : 10)
    }

    func run() async throws {
        guard let wrk = Wrk.find() else {
            note("redml-bench http: wrk is not installed (apt-get install -y wrk); skipping the http suite")
            return
        }
        let folder = try BenchFolder()
        defer { folder.remove() }
        if options.runs("memory") {
            try await measure(backend: "memory", store: InMemoryMLPersistence(), wrk: wrk, folder: folder)
        }
        if options.runs("sqlite") {
            let store = try SQLiteMLPersistence(path: folder.path("http.sqlite"))
            try await measure(backend: "sqlite", store: store, wrk: wrk, folder: folder)
            try store.close()
        }
        if options.runs("baseline") { try await measureBaselines(wrk: wrk, folder: folder) }
    }

    /// What the same wrk load gets from Hummingbird alone (one route answering
    /// a constant "ok", no middleware) and from RedML's `/healthz` (the full
    /// middleware stack, no registry call): the ceiling the GET target is
    /// measured against, on the same cores.
    private func measureBaselines(wrk: Wrk, folder: BenchFolder) async throws {
        let router = Router()
        router.get("hello") { _, _ in "ok" }
        try await serving({ onPort in
            Application(router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
                        onServerRunning: { await onPort($0.localAddress?.port) })
        }) { base in
            try await measureGet("\(base)/hello", backend: "hummingbird", name: "bare_route", wrk: wrk, folder: folder)
        }
        let store = InMemoryMLPersistence()
        let api = MLHTTPAPI(registry: MLModelRegistry(store: store), queue: MLJobQueue(store: store),
                            prometheus: PrometheusCollectorRegistry(), configuration: MLHTTPAPI.Configuration())
        try await serving({ try api.makeApplication(host: "127.0.0.1", port: 0, onServerRunning: $0) }) { base in
            try await measureGet("\(base)/healthz", backend: "memory", name: "healthz", wrk: wrk, folder: folder)
        }
    }

    /// A short unreported run first, so connections and caches are warm, then one reported run of GET `url`.
    private func measureGet(
        _ url: String, headers: [String] = [], backend: String, name: String, target: String? = nil, wrk: Wrk,
        folder: BenchFolder
    ) async throws {
        _ = try await wrk.run(url: url, load: Wrk.Load(threads: 2, connections: 64, seconds: 1),
                              headers: headers, script: nil, outputPath: folder.path("warmup.txt"))
        let get = try await wrk.run(url: url, load: load, headers: headers, script: nil, outputPath: folder.path("get.txt"))
        try report(get, backend: backend, name: name, url: url, target: target)
    }

    private func measure(backend: String, store: any MLStore, wrk: Wrk, folder: BenchFolder) async throws {
        let registry = MLModelRegistry(store: store)
        let queue = MLJobQueue(store: store)
        _ = try await registry.register(MLRegistration(model: Self.model, hyperparameters: ["lr": 0.01],
                                                       metrics: ["accuracy": .double(0.9)], createdBy: "bench"),
                                        weights: Data(repeating: 0x5A, count: 1_024))
        for access in Access.allCases {
            let api = MLHTTPAPI(registry: registry, queue: queue, prometheus: PrometheusCollectorRegistry(),
                                configuration: MLHTTPAPI.Configuration(token: access.token))
            try await serving({ try api.makeApplication(host: "127.0.0.1", port: 0, onServerRunning: $0) }) { base in
                let active = "\(base)/v1/models/\(Self.model)/active"
                let headers = access.token.map { ["Authorization: Bearer \($0)"] } ?? []
                try await measureGet(active, headers: headers, backend: backend, name: "get_active_\(access.label)",
                                     target: ">= 20k req/s (wrk on the same 2 cores)", wrk: wrk, folder: folder)

                let script = folder.path("submit_\(access.label).lua")
                try Self.submitScript(token: access.token).write(toFile: script, atomically: true, encoding: .utf8)
                let jobs = "\(base)/v1/jobs"
                let post = try await wrk.run(url: jobs, load: load, headers: [], script: script,
                                             outputPath: folder.path("post.txt"))
                try report(post, backend: backend, name: "submit_job_\(access.label)", url: jobs, target: nil)
            }
        }
    }

    /// A wrk script that submits one job per request.
    static func submitScript(token: String?) -> String {
        var lines = [
            #"wrk.method = "POST""#,
            "wrk.body = '\(jobBody)'",
            #"wrk.headers["Content-Type"] = "application/json""#,
        ]
        if let token { lines.append(#"wrk.headers["Authorization"] = "Bearer \#(token)""#) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Emits requests/s and p50/p99 latency; a run with failed responses measured
    /// the error path, so it stops the suite instead.
    private func report(_ run: WrkReport, backend: String, name: String, url: String, target: String?) throws {
        guard run.failedResponses == 0 else {
            throw BenchError(code: "failed_responses",
                                 message: "\(run.failedResponses) of \(run.requests) responses from \(url) (\(name)) were not 2xx/3xx")
        }
        if let errors = run.socketErrors { note("\(backend) \(name): \(errors)") }
        note(String(format: "%@ %@: %.0f req/s, p50 %.2f ms, p99 %.2f ms (%d requests in %.2f s)",
                    backend, name, run.requestsPerSecond, run.p50 * 1e3, run.p99 * 1e3, run.requests, run.seconds))
        Figure.rate("http", backend, name, run.requestsPerSecond, run.requests, target: target).emit()
        Figure.latency("http", backend, "\(name)_p50", run.p50, run.requests, target: nil).emit()
        Figure.latency("http", backend, "\(name)_p99", run.p99, run.requests, target: nil).emit()
    }

    /// Serves the application `make` builds (on a free loopback port, which it
    /// reports through the closure it is given) while `body` runs with the base
    /// URL, then stops the server.
    private func serving<App: ApplicationProtocol>(
        _ make: (@escaping @Sendable (Int?) async -> Void) throws -> App, _ body: (String) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int?.self)
        let app = try make { port in continuation.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Ending the stream unblocks the wait below if the server never listens.
                defer { continuation.finish() }
                do {
                    try await app.run()
                } catch is CancellationError {
                    // The benchmark stopped the server.
                }
            }
            guard let listening = await ports.first(where: { _ in true }), let port = listening else {
                try await group.waitForAll()
                throw BenchError(code: "server_not_listening", message: "the HTTP API did not report a port on 127.0.0.1")
            }
            try await body("http://127.0.0.1:\(port)")
            group.cancelAll()
        }
    }
}
