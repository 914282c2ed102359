import Foundation
import RedML

/// What a store holds: entries per namespace and committed blobs, counted by
/// walking pages, so that a large store is never loaded at once.
struct StoreStatistics: Encodable {
    /// The namespaces counted: the registry's and the job queue's.
    static let namespaces = [MLNamespace.models, MLNamespace.modelVersions, MLNamespace.jobs]

    /// Entries per namespace.
    var entries: [String: Int]
    /// Committed blobs.
    var blobs: Int
    /// The committed blobs' total size in bytes.
    var blobBytes: Int64

    enum CodingKeys: String, CodingKey {
        case entries
        case blobs
        case blobBytes = "blob_bytes"
    }

    /// Counts the jobs of a store that keeps them in a job table, a page at a time.
    private static func countJobs(_ table: any MLJobTableStore) async throws -> Int {
        var count = 0
        try await table.forEachJobPage(MLJobTableQuery(limit: 1_000)) { count += $0.count }
        return count
    }

    /// Counts what `store` holds.
    static func count(_ store: any MLStore) async throws -> StoreStatistics {
        var entries: [String: Int] = [:]
        for namespace in namespaces {
            if namespace == MLNamespace.jobs, let table = store as? any MLJobTableStore {
                entries[namespace] = try await countJobs(table)
                continue
            }
            var count = 0
            var cursor: String?
            repeat {
                let page = try await store.page(namespace: namespace, MLPageRequest(after: cursor, limit: 1000))
                count += page.entries.count
                cursor = page.nextCursor
            } while cursor != nil
            entries[namespace] = count
        }
        var blobs = 0
        var blobBytes: Int64 = 0
        var after: String?
        while true {
            let batch = try await store.blobs(after: after, limit: 1000)
            blobs += batch.count
            blobBytes += batch.reduce(0) { $0 + $1.size }
            guard batch.count == 1000, let last = batch.last else { break }
            after = last.sha256
        }
        return StoreStatistics(entries: entries, blobs: blobs, blobBytes: blobBytes)
    }

    /// One line such as `3 models, 7 model_versions, 7 jobs; 7 blobs (1.8 MB)`.
    var summary: String {
        let counts = Self.namespaces.map { "\(entries[$0] ?? 0) \($0)" }.joined(separator: ", ")
        return "\(counts); \(blobs) blob\(blobs == 1 ? "" : "s") (\(ByteCount.format(blobBytes)))"
    }
}

/// Formats byte counts for people.
enum ByteCount {
    /// `512 bytes`, `256.0 KiB`, `1.5 MiB`, …
    static func format(_ bytes: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard bytes >= 1024 else { return "\(bytes) byte\(bytes == 1 ? "" : "s")" }
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }
}
