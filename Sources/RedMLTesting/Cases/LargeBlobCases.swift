import RedMLPersistence

/// Blobs of many chunks, streamed in and out without holding them whole.
enum LargeBlobCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("largeBlob.oneMebibyte") { fixture in
            let store = try await fixture.makeStore()
            try await BlobSupport.roundTrip(
                store, DeterministicBytes(size: 1 << 20, bufferSize: 65_544, seed: 1), "a 1 MiB blob")
            try await BlobSupport.roundTrip(
                store, DeterministicBytes(size: (1 << 20) + 12_345, bufferSize: 1 << 20, seed: 2),
                "a blob of 1 MiB + 12345 bytes")
            try await BlobSupport.roundTrip(
                store, DeterministicBytes(size: 3 * store.blobChunkSize, bufferSize: 1 << 20, seed: 3),
                "a blob of exactly three chunks")
        },
        MLConformanceCase("largeBlob.hundredMebibytes") { fixture in
            let store = try await fixture.makeStore()
            try await BlobSupport.roundTrip(
                store, DeterministicBytes(size: 100 << 20, bufferSize: 1 << 20, seed: 100), "a 100 MiB blob")
        },
    ]
}
