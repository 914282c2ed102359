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

    /// `redml serve` on `host`, any port, with a token (as beyond loopback needs one) and errors-only logs.
    private static func serve(host: String) async throws -> RedMLResult {
        try await ScratchDirectory().redml(
            "serve", "--host", host, "--port", "0", "--token", "secret-token", "--store", "memory:",
            environment: ["REDML_LOG_LEVEL": "error"])
    }
}
