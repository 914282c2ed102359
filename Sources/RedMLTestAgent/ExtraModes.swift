import Foundation
import RedML

/// Agent modes added after the original four; see the usage in main.swift.
enum ExtraMode: String {
    case openAt = "open-at"
    case blobUpload = "blob-upload"
    case durablePutLoop = "durable-put-loop"
    case registerLoop = "register-loop"

    func run(path: String, arguments: [String]) async throws {
        switch self {
        case .openAt:
            guard arguments.count == 1, let epochMilliseconds = Int64(arguments[0]) else {
                fail("open-at PATH EPOCH_MS")
            }
            // Sleep until the shared instant, so that every agent opens the file at once.
            let wait = Double(epochMilliseconds) / 1000 - Date().timeIntervalSince1970
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            _ = try SQLiteMLPersistence(path: path)
            say("opened")
        case .blobUpload:
            guard arguments.count == 1, let chunks = Int(arguments[0]), chunks > 0 else {
                fail("blob-upload PATH CHUNKS")
            }
            let store = try SQLiteMLPersistence(path: path)
            let upload = try await store.beginBlobUpload()
            say("upload \(upload.rawValue)")
            var hasher = MLBlobHasher()
            for index in 0..<chunks {
                let chunk = Self.chunk(index, size: store.blobChunkSize)
                hasher.update(chunk)
                try await store.appendBlobChunk(chunk, index: index, to: upload)
                say("chunk \(index)")
            }
            let staged = try await store.finishBlobUpload(
                upload, sha256: hasher.finalize(), size: hasher.size, chunkCount: chunks)
            var batch = MLBatch()
            batch.commitBlob(staged)
            batch.put(namespace: "blobs", key: "big", value: #"{"sha256":"\#(staged.sha256)"}"#)
            try await store.commit(batch)
            say("committed \(staged.sha256)")
        case .durablePutLoop:
            let durabilities: [String: SQLiteMLPersistence.Durability] = [
                "power-loss": .powerLoss, "process-crash": .processCrash,
            ]
            guard arguments.count == 2, let durability = durabilities[arguments[0]], let count = Int(arguments[1])
            else { fail("durable-put-loop PATH power-loss|process-crash COUNT") }
            var configuration = SQLiteMLPersistence.Configuration()
            configuration.durability = durability
            let store = try SQLiteMLPersistence(path: path, configuration: configuration)
            for i in 0..<count {
                try await store.put(namespace: "crash", key: "d-\(i)", value: #"{"i":\#(i)}"#)
                say("ack \(i)")
            }
        case .registerLoop:
            guard arguments.count == 3, let count = Int(arguments[1]) else {
                fail("register-loop PATH MODEL COUNT AGENT")
            }
            let registry = MLModelRegistry(store: try SQLiteMLPersistence(path: path))
            for i in 0..<count {
                // Distinct 1 KiB weights per registration, so every version has its own blob.
                var weights = Self.chunk(i, size: 1_024)
                weights.append(contentsOf: Array("\(arguments[2])-\(i)".utf8))
                let version = try await registry.register(
                    MLRegistration(model: arguments[0], metrics: ["i": .int(Int64(i))], createdBy: arguments[2]),
                    weights: weights)
                say("version \(version.version)")
            }
        }
    }

    /// Chunk `index` of a reproducible byte stream: a xorshift sequence seeded by the index.
    static func chunk(_ index: Int, size: Int) -> Data {
        var data = Data(count: size)
        data.withUnsafeMutableBytes { raw in
            var state = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15
            for position in 0..<raw.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                raw[position] = UInt8(truncatingIfNeeded: state)
            }
        }
        return data
    }
}
