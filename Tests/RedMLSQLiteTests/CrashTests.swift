import Foundation
import RedML
import Testing

/// Agents killed with SIGKILL in the middle of writing: every acknowledged
/// write must survive, and nothing half-written may appear.
@Suite("Crash recovery")
struct CrashTests {
    @Test("put-loop killed mid-write, 4 rounds on one file: acked keys survive, contiguous, healthy")
    func putLoopKilledRepeatedly() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("crash.sqlite")
        var previous: [String: Int] = [:]  // prefix → how many keys it left
        for round in 0..<4 {
            let prefix = "r\(round)"
            let agent = try Agent.start("put-loop", path, prefix, "1000000")
            defer { agent.kill() }
            // Vary the moment of the kill a little from round to round.
            try await agent.killAfterAcks(3000 + 257 * round)
            let acked = agent.acks
            let highest = try #require(acked.max())
            #expect(acked == Array(0...highest), "acks arrive in order, one per put")

            // Opening recovers the WAL left by the killed writer.
            let store = try SQLiteMLPersistence(path: path)
            let present = try await StoreHelpers.indices(store, "crash", prefix: prefix)
            let count = present.count
            #expect(present == Array(0..<count), "round \(round): keys are not a contiguous range 0..<\(count)")
            #expect(count >= highest + 1, "round \(round): \(count) keys, but \(highest) was acknowledged")
            #expect(count < 1_000_000, "round \(round): the agent was not killed mid-run")
            for index in acked where !present.contains(index) {
                Issue.record("round \(round): acknowledged \(prefix)-\(index) is missing")
                break
            }
            // Earlier rounds' keys are untouched by later crashes.
            for (earlier, earlierCount) in previous {
                let indices = try await StoreHelpers.indices(store, "crash", prefix: earlier)
                #expect(indices == Array(0..<earlierCount), "round \(round): keys of \(earlier) changed")
            }
            previous[prefix] = count
            try await StoreHelpers.expectHealthy(store)
            try await StoreHelpers.expectWritable(store)
            try store.close()
        }
    }

    @Test("batch-loop killed mid-run: each batch's two entries exist together or not at all")
    func batchLoopKilled() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("batches.sqlite")
        for round in 0..<2 {
            let prefix = "b\(round)"
            let agent = try Agent.start("batch-loop", path, prefix, "1000000")
            defer { agent.kill() }
            try await agent.killAfterAcks(2000 + 311 * round)
            let acked = agent.acks
            let highest = try #require(acked.max())

            let store = try SQLiteMLPersistence(path: path)
            let left = try await StoreHelpers.indices(store, "left", prefix: prefix)
            let right = try await StoreHelpers.indices(store, "right", prefix: prefix)
            #expect(left == right, "round \(round): the namespaces differ; a batch was applied in part")
            #expect(left == Array(0..<left.count), "round \(round): batches are not a contiguous range")
            #expect(left.count >= highest + 1, "round \(round): \(left.count) batches, \(highest) acknowledged")
            let leftSet = Set(left)
            let rightSet = Set(right)
            let lost = acked.filter { !leftSet.contains($0) || !rightSet.contains($0) }
            #expect(lost.isEmpty, "round \(round): acknowledged batches lost: \(lost.prefix(10))")
            try await StoreHelpers.expectHealthy(store)
            try await StoreHelpers.expectWritable(store)
            try store.close()
        }
    }

    @Test("blob upload killed mid-stream: nothing committed, the upload is abandoned and removable")
    func blobUploadKilled() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("blob.sqlite")
        // A committed record from before, which the crash must not disturb.
        do {
            let store = try SQLiteMLPersistence(path: path)
            try await store.put(namespace: "blobs", key: "before", value: #"{"n":1}"#)
            try store.close()
        }
        let agent = try Agent.start("blob-upload", path, "64")  // 64 MiB in 1 MiB chunks
        defer { agent.kill() }
        agent.killWhenLine { $0 == "chunk 7" }
        try await agent.waitForLines("8 chunks", timeout: .seconds(60)) { $0.contains("chunk 7") }
        try await agent.killAndExpectSignal()
        let lines = agent.lines
        #expect(!lines.contains { $0.hasPrefix("committed") }, "the upload finished before the kill")
        let chunksAcked = lines.filter { $0.hasPrefix("chunk ") }.count
        #expect((8..<64).contains(chunksAcked))

        let store = try SQLiteMLPersistence(path: path)
        #expect(try await store.blobs(after: nil, limit: 10).isEmpty)
        #expect(try await store.get(namespace: "blobs", key: "big") == nil)
        #expect(try await store.get(namespace: "blobs", key: "before") == #"{"n":1}"#)
        // The acknowledged chunks are on disk, held by the abandoned upload.
        let storedChunks = try await SQLiteShell.run(path, "SELECT count(*) FROM ml_blob_chunks")
        #expect((Int(storedChunks) ?? -1) >= chunksAcked)

        let removed = try await store.removeAbandonedBlobUploads(startedBefore: Date().addingTimeInterval(60))
        #expect(removed == 1)
        #expect(try await store.removeAbandonedBlobUploads(startedBefore: Date().addingTimeInterval(60)) == 0)
        // Removing the upload removes its chunks too.
        #expect(try await SQLiteShell.run(path, "SELECT count(*) FROM ml_blob_chunks") == "0")
        #expect(try await SQLiteShell.run(path, "SELECT count(*) FROM ml_blob_uploads") == "0")
        try await StoreHelpers.expectHealthy(store)
        try await StoreHelpers.expectWritable(store)

        // The store takes a new blob afterwards.
        let bytes = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let staged = try await store.writeBlob(bytes)
        var batch = MLBatch()
        batch.commitBlob(staged)
        try await store.commit(batch)
        #expect(try await store.readBlobData(sha256: staged.sha256) == bytes)
        try store.close()
    }
}
