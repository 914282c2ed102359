import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Checkpoints that carry bytes: kept in the blob store, handed back on the
/// next attempt, replaced whole, dropped at the end, verified, and fenced.
@Suite("Checkpoint bytes")
struct CheckpointBytesTests {
    /// Bytes that differ from position to position, so a shifted or truncated read shows.
    static func bytes(_ count: Int, seed: UInt8) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    /// A running job that saved a checkpoint with bytes and waits for `finish` before `end` ends it.
    struct HeldJob {
        let id: UInt128
        let sha256: String
        let finish: Gate
        let workers: RunningWorkers

        static func start(
            _ h: Harness, saving state: MLJSONObject, _ bytes: Data,
            then end: @escaping @Sendable () throws -> MLJSONObject
        ) async throws -> HeldJob {
            let saved = Gate()
            let finish = Gate()
            let workers = h.start { workers in
                workers.register(.train) { job in
                    try await job.checkpoint(state, bytes: bytes)
                    saved.open()
                    await finish.wait()
                    return try end()
                }
            }
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
            await saved.wait()
            let sha256 = try #require(try await h.queue.requireJob(id).checkpointBytes?.sha256)
            return HeldJob(id: id, sha256: sha256, finish: finish, workers: workers)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func bytesComeBackOnTheNextAttemptAndAreReplacedWholeAndDroppedAtTheEnd(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let first = Self.bytes(300_000, seed: 1)
        let second = Self.bytes(1_000, seed: 2)
        struct Seen: Sendable {
            var attempt: Int
            var size: Int64?
            var data: Data?
            var firstBlobAfterSecond: MLBlobInfo?
            var secondBlobAfterJSONOnly: MLBlobInfo?
            var sizeAfterJSONOnly: Int64?
        }
        let seen = Locked<[Seen]>([])
        let store = h.store
        let queue = h.queue
        let workers = h.start { workers in
            workers.register(.train) { job in
                var entry = Seen(attempt: job.attempt, size: job.checkpointBytesSize, data: try await job.checkpointData())
                if job.attempt == 1 {
                    seen.withLock { $0.append(entry) }
                    try await job.checkpoint(["epoch": 1], bytes: first, progress: 50)
                    throw MLJobFailure("out of memory")
                }
                let firstSHA = try #require(try await queue.requireJob(job.id).checkpointBytes?.sha256, "the first attempt's bytes")
                try await job.checkpoint(["epoch": 2], bytes: second, progress: 80)
                entry.firstBlobAfterSecond = try await store.blobInfo(sha256: firstSHA)
                let secondSHA = try #require(try await queue.requireJob(job.id).checkpointBytes?.sha256, "the second checkpoint's bytes")
                try await job.checkpoint(["epoch": 3], progress: 90)
                entry.secondBlobAfterJSONOnly = try await store.blobInfo(sha256: secondSHA)
                entry.sizeAfterJSONOnly = job.checkpointBytesSize
                let final = entry
                seen.withLock { $0.append(final) }
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m", maxAttempts: 2))
        let failed = try await waitForJob(h.queue, id, "the first failure") { $0.failures == 1 }
        let reference = try #require(failed.checkpointBytes)
        #expect(reference.size == Int64(first.count))
        #expect(failed.checkpoint == ["epoch": 1])
        #expect(try await h.queue.checkpointBytes(of: id)?.data() == first)
        #expect(try await h.store.blobInfo(sha256: reference.sha256) != nil)

        h.clock.advance(by: .seconds(1))
        _ = try await h.queue.promoteScheduledJobs()
        let done = try await waitForStatus(h.queue, id, .completed, nudging: h.clock)
        try await workers.stop()

        let attempts = seen.value
        try #require(attempts.count == 2)
        #expect(attempts[0].size == nil)
        #expect(attempts[0].data == nil)
        #expect(attempts[1].attempt == 2)
        #expect(attempts[1].size == Int64(first.count))
        #expect(attempts[1].data == first)
        // Saving new bytes deleted the old ones; a checkpoint without bytes dropped the new ones.
        #expect(attempts[1].firstBlobAfterSecond == nil)
        #expect(attempts[1].secondBlobAfterJSONOnly == nil)
        #expect(attempts[1].sizeAfterJSONOnly == nil)
        #expect(done.checkpoint == ["epoch": 3])
        #expect(done.checkpointBytes == nil)
        #expect(try await h.queue.checkpointBytes(of: id) == nil)
        #expect(try await h.store.blobs(after: nil, limit: 10).isEmpty)
    }

    @Test(arguments: Backends.allFixtures())
    func aTerminalJobDropsItsBytes(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let held = try await HeldJob.start(h, saving: ["step": 1], Self.bytes(10, seed: 3)) {
            throw MLJobFailure("diverged", retryable: false)
        }
        let (id, sha) = (held.id, held.sha256)
        #expect(try await h.store.blobInfo(sha256: sha) != nil)
        held.finish.open()
        let failed = try await waitForStatus(h.queue, id, .failed)
        try await held.workers.stop()
        #expect(failed.checkpointBytes == nil)
        #expect(failed.checkpoint == ["step": 1])
        #expect(try await h.store.blobInfo(sha256: sha) == nil)
    }

    @Test(arguments: Backends.allFixtures())
    func streamedAndFileBytesSpanManyChunks(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let chunk = h.store.blobChunkSize
        let streamed = Self.bytes(chunk * 2 + chunk / 2 + 7, seed: 4)
        let fromFile = Self.bytes(chunk + 3, seed: 5)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("redml-checkpoint-\(UUID()).bin")
        try fromFile.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let readBack = Locked<[Data?]>([])
        let queue = h.queue
        let workers = h.start { workers in
            workers.register(.train) { job in
                // Buffers of 7 KiB, which do not line up with the store's chunks.
                let buffers = AsyncStream<Data> { continuation in
                    var offset = 0
                    while offset < streamed.count {
                        let end = min(streamed.count, offset + 7 * 1024)
                        continuation.yield(streamed.subdata(in: offset..<end))
                        offset = end
                    }
                    continuation.finish()
                }
                try await job.checkpoint(["from": "stream"], streaming: buffers)
                let one = try await queue.checkpointBytes(of: job.id)?.data()
                try await job.checkpoint(["from": "file"], contentsOf: file)
                let two = try await job.checkpointData()
                readBack.withLock { $0 = [one, two] }
                return [:]
            }
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await waitForStatus(h.queue, id, .completed)
        try await workers.stop()
        #expect(readBack.value.first == streamed)
        #expect(readBack.value.last == fromFile)
    }

    @Test(arguments: Backends.allFixtures())
    func jobsSavingTheSameBytesDoNotShareThem(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let same = Self.bytes(5_000, seed: 6)
        let saved = Locked(0)
        let release = Locked<Set<String>>([])
        let workers = h.start(workerConfiguration(count: 2)) { workers in
            workers.register(.train) { job in
                try await job.checkpoint(["same": true], bytes: same)
                saved.withLock { $0 += 1 }
                try await eventually("\(job.job.target) to be released") { release.value.contains(job.job.target) }
                return [:]
            }
        }
        let a = try await h.queue.submit(MLJobSubmission(kind: .train, target: "a"))
        let b = try await h.queue.submit(MLJobSubmission(kind: .train, target: "b"))
        try await eventually("both checkpoints") { saved.value == 2 }
        let shaA = try #require(try await h.queue.requireJob(a).checkpointBytes?.sha256)
        let shaB = try #require(try await h.queue.requireJob(b).checkpointBytes?.sha256)
        #expect(shaA != shaB)
        release.withLock { _ = $0.insert("a") }
        try await waitForStatus(h.queue, a, .completed)
        // Finishing a dropped a's bytes only.
        #expect(try await h.store.blobInfo(sha256: shaA) == nil)
        #expect(try await h.queue.checkpointBytes(of: b)?.data() == same)
        release.withLock { _ = $0.insert("b") }
        try await waitForStatus(h.queue, b, .completed)
        try await workers.stop()
    }

    @Test(arguments: Backends.allFixtures())
    func alteredBytesFailVerificationNamingTheJob(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let held = try await HeldJob.start(h, saving: [:], Self.bytes(4_096, seed: 7)) { [:] }
        let (id, sha) = (held.id, held.sha256)
        try await fixture.tamperWithBlob(h.store, sha)
        let error = await expectJobError(.checkpointCorrupt, "reading altered checkpoint bytes") {
            try await h.queue.checkpointBytes(of: id)?.data()
        }
        #expect(error?.jobID == id)
        #expect(error?.message.contains(MLKey.job(id)) == true)
        #expect(error?.message.contains("failed verification") == true)
        held.finish.open()
        try await waitForStatus(h.queue, id, .completed)
        try await held.workers.stop()
        await expectJobError(.unknownJob, "checkpoint bytes of an unknown job") {
            try await h.queue.checkpointBytes(of: id &+ 1)
        }
    }

    @Test("a chunk of the bytes lost from a SQLite file fails the read as checkpoint_corrupt naming the job")
    func aMissingChunkIsReportedAsCorruptNamingTheJob() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redml-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = SQLiteMLPersistence.Configuration()
        configuration.blobChunkSize = 4_096
        let store = try SQLiteMLPersistence(path: folder.appendingPathComponent("q.sqlite").path, configuration: configuration)
        let h = Harness(store: store)
        let held = try await HeldJob.start(h, saving: [:], Self.bytes(10_000, seed: 9)) { [:] }
        // Behind the store's back, as a damaged file or a hand edit would lose it.
        let sqlite = try Process.run(URL(fileURLWithPath: "/usr/bin/sqlite3"), arguments: [
            "-bail", "-cmd", ".timeout 10000", store.path,
            "DELETE FROM ml_blob_chunks WHERE seq = 1 AND upload_id = (SELECT upload_id FROM ml_blobs WHERE sha256 = '\(held.sha256)')",
        ])
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        let error = await expectJobError(.checkpointCorrupt, "reading checkpoint bytes with a chunk missing") {
            try await h.queue.checkpointBytes(of: held.id)?.data()
        }
        #expect(error?.jobID == held.id)
        #expect(error?.message.contains(MLKey.job(held.id)) == true && error?.message.contains("no chunk 1") == true,
                "\(String(describing: error))")
        held.finish.open()
        try await waitForStatus(h.queue, held.id, .completed)
        try await held.workers.stop()
    }

    @Test(arguments: Backends.allFixtures())
    func aZombieCannotSaveBytes(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let mine = Self.bytes(2_000, seed: 8)
        let late = Self.bytes(2_000, seed: 9)
        // Worker A's clock never moves: it stops renewing, like a stalled process.
        let frozen = MLManualClock(nowMs: startMs)
        let queueA = h.reopened(clock: frozen)
        let aStarted = Gate()
        let aResume = Gate()
        let aError = Locked<MLJobError?>(nil)
        let workersA = RunningWorkers.start(
            queue: queueA, configuration: workerConfiguration(id: "worker-a", heartbeat: .seconds(1)), clock: frozen
        ) { workers in
            workers.register(.train) { job in
                try await job.checkpoint(["by": "a"], bytes: mine)
                aStarted.open()
                await aResume.wait()
                do {
                    try await job.checkpoint(["by": "a", "late": true], bytes: late)
                } catch let error as MLJobError {
                    aError.withLock { $0 = error }
                }
                return [:]
            }
        }
        let id = try await queueA.submit(MLJobSubmission(kind: .train, target: "m"))
        await aStarted.wait()
        let minePointer = try #require(try await h.queue.requireJob(id).checkpointBytes)

        h.clock.advance(by: .seconds(2))
        try await rescue(h.queue, expecting: 1)
        let bStarted = Gate()
        let bFinish = Gate()
        let bRead = Locked<Data?>(nil)
        let workersB = h.start(workerConfiguration(id: "worker-b", heartbeat: .seconds(1))) { workers in
            workers.register(.train) { job in
                let data = try await job.checkpointData()
                bRead.withLock { $0 = data }
                bStarted.open()
                await bFinish.wait()
                return [:]
            }
        }
        await bStarted.wait()
        #expect(bRead.value == mine)

        aResume.open()
        try await workersA.stop()
        #expect(aError.value?.code == .leaseLost)
        let after = try await h.queue.requireJob(id)
        #expect(after.checkpointBytes == minePointer)
        #expect(after.checkpoint == ["by": "a"])
        // The zombie's staged bytes were never committed.
        #expect(try await h.store.blobs(after: nil, limit: 10).map(\.sha256) == [minePointer.sha256])
        #expect(try await h.queue.checkpointBytes(of: id)?.data() == mine)

        bFinish.open()
        try await waitForStatus(h.queue, id, .completed)
        try await workersB.stop()
    }
}
