import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 that this process listens on, so that no one else can.
struct TakenPort {
    let descriptor: Int32
    let port: Int
    /// Where it listens, as `connect` takes it.
    let address: sockaddr_in

    /// Listens with room for `backlog` connections waiting to be accepted.
    init(backlog: Int32 = 1) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0  // any free port
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, backlog) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            Glibc.close(descriptor)
            throw POSIXError(.init(rawValue: error) ?? .EIO)
        }
        self.descriptor = descriptor
        self.address = address
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }
}

/// A port on 127.0.0.1 where connection attempts get no answer at all, as
/// behind a firewall that drops them: it listens but never accepts, and its
/// queue of connections waiting to be accepted is kept full, so Linux drops
/// the SYN of every later attempt and the connecting side waits. Give the
/// fillers' handshakes a moment to complete before relying on it.
struct SilentPort {
    private let listener: TakenPort
    private let fillers: [Int32]
    var port: Int { listener.port }

    init() throws {
        listener = try TakenPort(backlog: 0)
        let address = listener.address
        var fillers: [Int32] = []
        // The first to complete fills the queue (backlog 0 holds one); the others are dropped, as every
        // later attempt will be. More than one, in case the first is slow to complete.
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard filler >= 0 else { continue }
            _ = withUnsafePointer(to: address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fillers.append(filler)
        }
        self.fillers = fillers
    }

    func close() {
        for filler in fillers { Glibc.close(filler) }
        listener.close()
    }
}
