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

    /// `redml serve` on `host`, any port, with a token (as beyond loopback needs one) and errors-only logs.
    private static func serve(host: String) async throws -> RedMLResult {
        try await ScratchDirectory().redml(
            "serve", "--host", host, "--port", "0", "--token", "secret-token", "--store", "memory:",
            environment: ["REDML_LOG_LEVEL": "error"])
    }
}

/// A TCP port on 127.0.0.1 that this process listens on, so that no one else can.
private struct TakenPort {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0  // any free port
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 1) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            Glibc.close(descriptor)
            throw POSIXError(.init(rawValue: error) ?? .EIO)
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }
}
