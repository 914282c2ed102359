import Foundation
import RedML

/// What the machine itself does, so that figures taken on two machines of the
/// same kind can be compared (`redml-bench machine`): two VMs of one kind ran
/// RedML's figures three times apart.
///
/// Each figure stands for a cost the library suites are made of: plain CPU and
/// allocation, hashing weights, waking another task (the queue's hand-offs) and
/// a flush to disk (every durable commit).
struct MachineBenchmark: Sendable {
    let options: BenchOptions

    func run() async throws {
        let quick = options.quick
        await dictionaryInserts(count: quick ? 200_000 : 1_000_000)
        await sha256(mebibytes: quick ? 64 : 256)
        try await taskHandoffs(count: quick ? 20_000 : 100_000)
        try await fileSyncs(count: quick ? 50 : 200)
    }

    /// Inserts into a fresh dictionary of `Int`s: CPU, cache misses and allocation.
    private func dictionaryInserts(count: Int) async {
        var table: [Int: Int] = [:]
        let seconds = await measure {
            for i in 0..<count { table[i &* 0x9E37_79B9] = i }
        }
        precondition(table.count == count)
        Figure.rate("machine", "-", "dictionary_inserts", Double(count) / seconds, count, target: nil).emit()
    }

    /// SHA-256 over `mebibytes` MiB in 1 MiB chunks, as blob staging hashes weights.
    private func sha256(mebibytes: Int) async {
        let chunk = Data(repeating: 0x5A, count: 1 << 20)
        var hasher = MLBlobHasher()
        let seconds = await measure {
            for _ in 0..<mebibytes { hasher.update(chunk) }
        }
        precondition(hasher.finalize().count == 64)
        Figure(suite: "machine", backend: "-", figure: "sha256", value: (Double(mebibytes) / seconds).rounded(),
               unit: "MiB/s", operations: mebibytes, seconds: seconds, target: nil).emit()
    }

    /// Round trips between two tasks through async streams: the cost of waking
    /// another task, which a job pays several times between submit and completion.
    private func taskHandoffs(count: Int) async throws {
        let (pings, ping) = AsyncStream.makeStream(of: Int.self)
        let (pongs, pong) = AsyncStream.makeStream(of: Int.self)
        let seconds = try await measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await value in pings { pong.yield(value) }
                    pong.finish()
                }
                var replies = pongs.makeAsyncIterator()
                for i in 0..<count {
                    ping.yield(i)
                    guard await replies.next() == i else { throw CancellationError() }
                }
                ping.finish()
                try await group.waitForAll()
            }
        }
        Figure.latency("machine", "-", "task_round_trip", seconds / Double(count), count, target: nil).emit()
    }

    /// Writes 4 KiB and `fdatasync`s it, `count` times: what a durable commit waits for.
    private func fileSyncs(count: Int) async throws {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let path = folder.path("sync")
        let descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(descriptor) }
        let page = [UInt8](repeating: 0x5A, count: 4096)
        let seconds = try await measure {
            for i in 0..<count {
                let written = page.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(i % 16) * 4096) }
                guard written == page.count, fdatasync(descriptor) == 0 else { throw CocoaError(.fileWriteUnknown) }
            }
        }
        Figure.latency("machine", "-", "write_4KiB_and_fdatasync", seconds / Double(count), count, target: nil).emit()
    }
}
