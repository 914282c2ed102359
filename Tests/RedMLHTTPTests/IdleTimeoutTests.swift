import Foundation
import RedML
import RedMLHTTP
import Testing

/// Connections that send nothing are closed after the idle timeout, while a
/// request being answered (an event stream) is not cut off.
@Suite("Idle connections on a live server")
struct IdleTimeoutTests {
    static func configuration() -> MLHTTPAPI.Configuration {
        var configuration = MLHTTPAPI.Configuration()
        configuration.idleTimeout = .milliseconds(300)
        configuration.eventStreamHeartbeat = .seconds(3_600)  // nothing written while the stream waits
        return configuration
    }

    @Test func aConnectionThatNeverSendsARequestIsClosed() async throws {
        let h = try await Harness(configuration: Self.configuration())
        _ = try await EventStreamTests.serve(h) { port in
            let connection = try LiveConnection(port: port)
            let started = ContinuousClock.now
            let read = await connection.read { _ in false }
            #expect(read.closed, "the server kept a silent connection open: \(read)")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func aRequestWhoseHeadersStallIsClosed() async throws {
        let h = try await Harness(configuration: Self.configuration())
        _ = try await EventStreamTests.serve(h) { port in
            let connection = try LiveConnection(port: port)
            try connection.send("GET /healthz HTTP/1.1\r\nHost: local")  // and nothing more
            let read = await connection.read { _ in false }
            #expect(read.closed, "the server kept a stalled request open: \(read)")
        }
    }

    @Test func anEventStreamOutlivesTheIdleTimeout() async throws {
        let h = try await Harness(configuration: Self.configuration())
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))  // no workers: it stays queued
        _ = try await EventStreamTests.serve(h) { port in
            let connection = try LiveConnection(port: port, readTimeout: 2)
            try connection.send("GET /v1/jobs/\(MLKey.job(id))/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            // Under a loaded machine the first event may take longer than the 2 s read timeout,
            // which is for the silence below: wait for it up to 30 s.
            var first = await connection.read { $0.contains("event: status") }
            var text = first.text
            for _ in 0..<14 where first.timedOut && !text.contains("event: status") {
                first = await connection.read { $0.contains("event: status") }
                text += first.text
            }
            #expect(text.contains("event: status"), "\(text)")
            // Two seconds of silence from both sides, over six idle timeouts: the read times out, the stream stays.
            let rest = await connection.read { _ in false }
            #expect(rest.timedOut && !rest.closed, "the stream was closed: \(rest)")
        }
    }

    @Test func theDefaultIsAMinute() {
        #expect(MLHTTPAPI.Configuration().idleTimeout == .seconds(60))
    }
}
