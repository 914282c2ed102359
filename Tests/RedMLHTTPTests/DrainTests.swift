import Foundation
import Logging
import RedML
import RedMLHTTP
import ServiceLifecycle
import Testing

/// A graceful shutdown on a live server, in the order `redml serve` lists its
/// services: `/readyz` turns to 503 at once, while the API keeps answering
/// until the workers have finished the job they run.
@Suite("Draining on a live server")
struct DrainTests {
    @Test func readinessTurnsToDrainingWhileTheWorkersFinishAndTheAPIStillAnswers() async throws {
        let h = try await Harness()
        var workerConfiguration = MLJobWorkers.Configuration()
        workerConfiguration.workerCount = 1
        workerConfiguration.gracePeriod = .seconds(60)
        let workers = MLJobWorkers(queue: h.queue, configuration: workerConfiguration)
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        workers.register(.train) { _ in
            startedContinuation.yield()
            for await _ in release { break }
            return ["done": true]
        }
        let (ports, portsContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try h.api.makeApplication(host: "127.0.0.1", port: 0) { port in
            if let port { portsContinuation.yield(port) }
        }
        var configuration = ServiceGroupConfiguration(
            services: [app, workers, MLHTTPDrainOnShutdown(h.api.readiness)], logger: Logger(label: "test"))
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { portsContinuation.finish() }
                try await group.run()
            }
            var portIterator = ports.makeAsyncIterator()
            let port = try #require(await portIterator.next(), "the server stopped before it listened")
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
            var startedIterator = started.makeAsyncIterator()
            _ = await startedIterator.next()
            let before = try await Self.get("/readyz", port: port)
            #expect(before.hasPrefix("HTTP/1.1 200") && before.contains(#"{"status":"ready"}"#), "\(before)")

            await group.triggerGracefulShutdown()
            var draining = ""
            for _ in 0..<500 where !draining.hasPrefix("HTTP/1.1 503") {
                draining = try await Self.get("/readyz", port: port)
                if !draining.hasPrefix("HTTP/1.1 503") { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(draining.hasPrefix("HTTP/1.1 503") && draining.contains(#"{"status":"draining"}"#), "\(draining)")
            // Still serving while the job drains: liveness, and the job itself.
            let health = try await Self.get("/healthz", port: port)
            #expect(health.hasPrefix("HTTP/1.1 200"), "\(health)")
            let job = try await Self.get("/v1/jobs/\(MLKey.job(id))", port: port)
            #expect(job.hasPrefix("HTTP/1.1 200") && job.contains(#""status":"running""#), "\(job)")

            releaseContinuation.yield()
            try await tasks.waitForAll()
            #expect(try await h.queue.job(id)?.status == .completed)
            #expect(throws: LiveConnection.Failed.self) { try LiveConnection(port: port) }
        }
    }

    /// One GET with `Connection: close`: everything the server sent.
    static func get(_ path: String, port: Int) async throws -> String {
        let connection = try LiveConnection(port: port, readTimeout: 5)
        try connection.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return await connection.read { _ in false }.text
    }
}
