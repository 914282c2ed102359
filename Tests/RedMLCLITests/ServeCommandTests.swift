import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("redml serve")
struct ServeCommandTests {
    @Test("a port that is taken fails with one line naming the address, not the socket call")
    func portInUse() async throws {
        let listener = try TakenPort()
        defer { listener.close() }
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml(
            "serve", "--port", "\(listener.port)", "--store", "memory:", environment: ["REDML_LOG_LEVEL": "error"])
        expectCleanFailure(result, mentioning: "cannot listen on 127.0.0.1:\(listener.port): the address is already in use")
        #expect(result.stderr.contains("--port"), "\(result)")
        #expect(!result.stderr.contains("bind("), "\(result)")
    }

    @Test("an address no interface of this machine has fails with one line that says to check --host")
    func foreignAddress() async throws {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737), on no machine.
        let result = try await Self.serve(host: "192.0.2.1")
        expectCleanFailure(result, mentioning: "cannot listen on 192.0.2.1:0: no network interface of this machine has that address")
        #expect(result.stderr.contains("--host"), "\(result)")
    }

    @Test("a host name that does not resolve fails with one line that says to check --host")
    func unknownHost() async throws {
        let result = try await Self.serve(host: "nosuch.invalid")
        expectCleanFailure(result, mentioning: "cannot listen on nosuch.invalid:0: the host name nosuch.invalid does not resolve")
    }

    @Test("the listening line reaches stdout at once when stdout is a file, so a script can wait for it")
    func listeningLineIsFlushed() async throws {
        let scratch = try ScratchDirectory()
        let server = try BackgroundRedML(["serve", "--port", "0", "--workers", "0", "--store", "memory:"], in: scratch.url,
                                         environment: ["REDML_LOG_LEVEL": "error"])
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while !server.stdout.contains("listening on http://127.0.0.1:"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let line = server.stdout
        server.signal(SIGTERM)
        let status = try await server.waitForExit()
        #expect(line.hasPrefix("redml serve: listening on http://127.0.0.1:"), "stdout: \(line)\nstderr: \(server.stderr)")
        #expect(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.map { $0 > 0 } == true,
                "a real port, not 0: \(line)")
        #expect(status == 0, "\(server.stderr)")
    }

    @Test("with --json, the listening line is a JSON object naming the port taken")
    func listeningLineAsJSON() async throws {
        let scratch = try ScratchDirectory()
        let server = try BackgroundRedML(["serve", "--port", "0", "--workers", "0", "--store", "memory:", "--json"],
                                         in: scratch.url, environment: ["REDML_LOG_LEVEL": "error"])
        try await waitUntil("the server to listen") { server.stdout.contains("\n") }
        let line = server.stdout
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0, "\(server.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "stdout: \(line)")
        let port = try #require((object["port"] as? NSNumber)?.intValue, "\(object)")
        #expect(port > 0 && object["listening"] as? Bool == true && object["host"] as? String == "127.0.0.1", "\(object)")
        #expect(object["url"] as? String == "http://127.0.0.1:\(port)", "\(object)")
    }

    @Test("an empty --host is a usage error that says so, with or without a token")
    func emptyHost() async throws {
        let scratch = try ScratchDirectory()
        for token in [[], ["--token", "secret-token"]] {
            let result = try await RedMLExecutable.run(
                ["serve", "--host", "", "--port", "0", "--store", "memory:"] + token, in: scratch.url,
                environment: ["REDML_LOG_LEVEL": "error"])
            #expect(result.status == 64 && result.stderr.contains("--host is empty"), "\(result)")
        }
    }

    @Test("/healthz answers while the built-in trainer runs a long job, and after SIGTERM /readyz answers 503 while it drains")
    func healthAnswersWhileTrainingAndReadinessDrains() async throws {
        let scratch = try ScratchDirectory()
        let (server, port) = try await Self.serveWhileTraining(in: scratch)
        defer { server.signal(SIGKILL) }
        for _ in 0..<3 {
            let reply = try Self.get("/healthz", port: port, timeoutSeconds: 5)
            #expect(reply.hasPrefix("HTTP/1.1 200"), "reply: \(reply)")
        }
        #expect(try Self.get("/readyz", port: port, timeoutSeconds: 5).hasPrefix("HTTP/1.1 200"))
        server.signal(SIGTERM)
        // The job has the grace period (10 s) to finish; meanwhile the server answers, but is not ready.
        var readiness = ""
        for _ in 0..<100 where !readiness.hasPrefix("HTTP/1.1 503") {
            readiness = (try? Self.get("/readyz", port: port, timeoutSeconds: 5)) ?? "no answer"
            if !readiness.hasPrefix("HTTP/1.1 503") { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(readiness.hasPrefix("HTTP/1.1 503") && readiness.contains(#"{"status":"draining"}"#), "\(readiness)")
        let health = (try? Self.get("/healthz", port: port, timeoutSeconds: 5)) ?? "no answer"
        #expect(health.hasPrefix("HTTP/1.1 200"), "during the drain: \(health)")
        #expect(try await server.waitForExit() == 0, "\(server.stderr)")
    }

    @Test("a second SIGINT while serve drains a running job ends it at once, with status 130")
    func secondSignalEndsTheDrain() async throws {
        let scratch = try ScratchDirectory()
        let (server, port) = try await Self.serveWhileTraining(in: scratch)
        defer { server.signal(SIGKILL) }
        server.signal(SIGINT)
        // Signals sent together merge into one: send the second once the first has been taken.
        var readiness = ""
        for _ in 0..<250 where !readiness.hasPrefix("HTTP/1.1 503") {
            readiness = (try? Self.get("/readyz", port: port, timeoutSeconds: 5)) ?? "no answer"
            if !readiness.hasPrefix("HTTP/1.1 503") { try await Task.sleep(for: .milliseconds(20)) }
        }
        try #require(readiness.hasPrefix("HTTP/1.1 503"), "the server never began to drain: \(readiness)")
        let second = ContinuousClock.now
        server.signal(SIGINT)
        // The grace period alone is 10 s; without the second signal the server would wait it out.
        #expect(try await server.waitForExit(timeout: .seconds(30)) == 128 + SIGINT, "\(server.stderr)")
        #expect(ContinuousClock.now - second < .seconds(5))
    }

    /// Trains on `builtin:digits` for a million epochs under `redml serve --workers 1`; returns once
    /// the job has run for a second, with the server and its port.
    private static func serveWhileTraining(in scratch: ScratchDirectory) async throws -> (BackgroundRedML, UInt16) {
        expectSuccess(try await scratch.redml(
            "train", "--data", "builtin:digits", "--model", "digits", "--epochs", "1000000"))
        let server = try BackgroundRedML(["serve", "--port", "0", "--workers", "1"], in: scratch.url,
                                         environment: ["REDML_LOG_LEVEL": "error"])
        do {
            try await waitUntil("the server to listen") { server.stdout.contains("listening on http://127.0.0.1:") }
        } catch {
            server.signal(SIGKILL)
            throw error
        }
        let port = try #require(server.stdout.split(separator: ":").last
            .flatMap { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        var running = false
        for _ in 0..<600 where !running {  // at most a minute
            try await Task.sleep(for: .milliseconds(100))
            let listed = try await scratch.redml("jobs", "list", "--status", "running", "--json")
            running = ((try? listed.jsonObject()["jobs"] as? [Any])?.count ?? 0) == 1
        }
        guard running else {
            server.signal(SIGKILL)
            throw RedMLExecutableFailure(description: "the job never started: \(server.stderr)")
        }
        try await Task.sleep(for: .seconds(1))  // well into its epochs
        return (server, port)
    }

    /// A plain HTTP/1.1 GET to 127.0.0.1: what came back before the server closed or `timeoutSeconds` passed.
    private static func get(_ path: String, port: UInt16, timeoutSeconds: Int) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }  // closed, or timed out
            reply += buffer[..<count]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    /// `redml serve` on `host`, any port, with a token (as beyond loopback needs one) and errors-only logs.
    private static func serve(host: String) async throws -> RedMLResult {
        try await ScratchDirectory().redml(
            "serve", "--host", host, "--port", "0", "--token", "secret-token", "--store", "memory:",
            environment: ["REDML_LOG_LEVEL": "error"])
    }
}
