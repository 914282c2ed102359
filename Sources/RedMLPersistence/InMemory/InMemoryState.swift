import Foundation

/// Everything an ``InMemoryMLPersistence`` holds, mutated only under its lock.
struct InMemoryState: ~Copyable {
    struct Stored {
        var value: String
        var revision: Int64
    }

    struct Namespace {
        var entries: [ByteKey: Stored] = [:]
        var index = SortedKeyIndex()

        mutating func write(_ key: String, _ stored: Stored) {
            if entries.updateValue(stored, forKey: ByteKey(key)) == nil {
                index.inserted(key)
            }
        }

        /// Merges keys written since the last page into the sorted index.
        mutating func refreshIndex() {
            let entries = self.entries
            index.refresh { entries[ByteKey($0)] != nil }
        }

        mutating func remove(_ key: String) {
            if entries.removeValue(forKey: ByteKey(key)) != nil {
                index.removed()
            }
        }
    }

    struct Blob {
        var info: MLBlobInfo
        var chunks: [Data]
    }

    struct Upload {
        var startedAt: Date
        var chunks: [Data] = []
        var sealed: MLStagedBlob?
    }

    var namespaces: [ByteKey: Namespace] = [:]
    var revision: Int64 = 0
    var blobs: [String: Blob] = [:]
    var uploads: [Int64: Upload] = [:]
    var lastUploadID: Int64 = 0

    func current(_ namespace: String, _ key: String) -> Stored? {
        namespaces[ByteKey(namespace)]?.entries[ByteKey(key)]
    }

    /// Advances the store's revision counter and returns the new revision.
    mutating func nextRevision() -> Int64 {
        revision += 1
        return revision
    }

    mutating func put(_ namespace: String, _ key: String, _ value: String, revision: Int64) {
        namespaces[ByteKey(namespace), default: Namespace()].write(key, Stored(value: value, revision: revision))
    }

    mutating func delete(_ namespace: String, _ key: String) {
        namespaces[ByteKey(namespace)]?.remove(key)
    }
}
