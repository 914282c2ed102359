import Foundation
import Logging
import RedML
import RedMLHTTP
import RedMLTestFixtures
import ServiceLifecycle
import Synchronization
import Testing

/// Job event streams on a live server: a stream of a job that does not change
/// must neither hold up the server's shutdown nor outlive its client.
@Suite("Job event streams on a live server")
struct EventStreamTests {
    @Test func aQuietStreamSendsHeartbeats() async throws {
        var configuration = MLHTTPAPI.Configuration()
        configuration.eventStreamHeartbeat = .milliseconds(50)
        let h = try await Harness(configuration: configuration)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))  // no workers: it stays queued
        let stopped = try await Self.serve(h) { port in
            let connection = try LiveConnection(port: port)
            try connection.send("GET /v1/jobs/\(MLKey.job(id))/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let read = await connection.read { $0.components(separatedBy: ": keep-alive\n\n").count > 3 }
            #expect(!read.closed && !read.timedOut, "\(read.text)")
            #expect(read.text.contains("event: status"))
            #expect(read.text.components(separatedBy: ": keep-alive\n\n").count > 3)
        }
        #expect(stopped < .seconds(5))
    }

    /// The client stays; the graceful shutdown ends its stream, and the
    /// client sees the response end.
    @Test func theServersShutdownEndsAnOpenStream() async throws {
        var configuration = MLHTTPAPI.Configuration()
        configuration.eventStreamHeartbeat = .seconds(3_600)  // no heartbeat during the test
        let h = try await Harness(configuration: configuration)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        let reader = Locked<Task<(text: String, closed: Bool, timedOut: Bool), Never>?>(nil)
        let stopped = try await Self.serve(h) { port in
            let connection = try LiveConnection(port: port)
            try connection.send("GET /v1/jobs/\(MLKey.job(id))/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let read = await connection.read { $0.contains("event: status") }
            #expect(read.text.contains("event: status"))
            // Reads to the end while the server shuts down; awaited below.
            reader.set(Task { await connection.read { $0.hasSuffix("0\r\n\r\n") } })
        }
        #expect(stopped < .seconds(5))
        let tail = try #require(await reader.value?.value)
        #expect(!tail.timedOut, "the response did not end: \(tail.text)")
    }

    /// The record turns unreadable while a client watches: the stream ends with
    /// an `error` event naming the record, as a request would be answered, and the
    /// response ends cleanly, where it used to be cut short with no reason given.
    @Test func aRecordThatTurnsUnreadableEndsTheStreamWithAnErrorEvent() async throws {
        var configuration = MLHTTPAPI.Configuration()
        configuration.eventStreamHeartbeat = .seconds(3_600)
        let h = try await Harness(configuration: configuration)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        _ = try await Self.serve(h) { port in
            let connection = try LiveConnection(port: port)
            try connection.send("GET /v1/jobs/\(MLKey.job(id))/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let first = await connection.read { $0.contains("event: status") }
            #expect(first.text.contains("event: status"), "\(first.text)")
            try await JobDamage.replaceRecord(of: id, in: h.store, with: "{oops")
            let read = await connection.read { $0.hasSuffix("0\r\n\r\n") }
            #expect(!read.timedOut, "the response did not end: \(read.text)")
            // The body is chunked: the event's own lines follow a chunk-size line.
            let event = try #require(read.text.components(separatedBy: "event: error\n").dropFirst().first, "\(read.text)")
            #expect(event.hasPrefix("id: 2\ndata: "), "\(read.text)")
            let data = try MLJSONValue.parseObject(
                String(event.dropFirst("id: 2\ndata: ".count).prefix { $0 != "\n" }), field: "data")
            guard case .object(let body)? = data["error"] else {
                Issue.record("no error object: \(read.text)")
                return
            }
            #expect(body["code"] == .string("job_corrupt"), "\(read.text)")
            #expect("\(body["message"] ?? .null)".contains("\(MLNamespace.jobs)/\(MLKey.job(id))"), "\(read.text)")
        }
    }

    /// Runs the API on a loopback port until `body` returns, then shuts the
    /// server down gracefully; returns how long the shutdown took. After 10 s
    /// the group escalates to cancellation, so a shutdown that would hang
    /// still ends, late, and fails the caller's check.
    static func serve(_ h: Harness, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Duration {
        let (ports, portsContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try h.api.makeApplication(host: "127.0.0.1", port: 0) { port in
            if let port { portsContinuation.yield(port) }
        }
        var configuration = ServiceGroupConfiguration(services: [app], logger: Logger(label: "test"))
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                // A server that fails to start must not leave the wait for its port below hanging.
                defer { portsContinuation.finish() }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await tasks.waitForAll()  // the server's own error, if it threw one
                throw LiveConnection.Failed(description: "the server stopped before it listened")
            }
            try await body(port)
            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return ContinuousClock.now - start
        }
    }

}

/// A value that tasks share.
final class Locked<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value { state.withLock { $0 } }
    func set(_ value: Value) { state.withLock { $0 = value } }
}
