import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP connection to a live server on loopback, for responses that do
/// not end by themselves (event streams), which the router test client would
/// wait for forever. Blocking reads run on a thread of their own, never on
/// the concurrency pool.
final class LiveConnection: Sendable {
    private let descriptor: Int32

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    /// Connects to 127.0.0.1:`port`; reads give up after `readTimeout` seconds.
    init(port: Int, readTimeout: Int = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failed(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        // Not closed here: a class whose initializer throws once every stored property is set is
        // deinitialized, and `deinit` closes it. Closing it here too closed whatever descriptor took
        // the number in between (once, another test's listening socket, and NIO crashed on it).
        guard connected == 0 else { throw Failed(description: "connect to port \(port) failed: errno \(errno)") }
        var timeout = timeval(tv_sec: readTimeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    /// Sends `text` whole.
    func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failed(description: "send failed: errno \(errno)") }
            bytes = bytes.dropFirst(sent)
        }
    }

    /// Closes the connection from this side.
    func shutDown() { Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Reads until `done` holds for everything read so far, the server closes
    /// the connection (`closed`), or a read times out (`timedOut`).
    func read(until done: @escaping @Sendable (String) -> Bool) async -> (text: String, closed: Bool, timedOut: Bool) {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
                    if count == 0 {
                        continuation.resume(returning: (String(decoding: received, as: UTF8.self), true, false))
                        return
                    }
                    if count < 0 {
                        continuation.resume(returning: (String(decoding: received, as: UTF8.self), false, true))
                        return
                    }
                    received += buffer[..<count]
                    let text = String(decoding: received, as: UTF8.self)
                    if done(text) {
                        continuation.resume(returning: (text, false, false))
                        return
                    }
                }
            }
            thread.start()
        }
    }
}
