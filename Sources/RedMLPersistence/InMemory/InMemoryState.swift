import Foundation

/// Everything an ``InMemoryMLPersistence`` holds, mutated only under its lock.
struct InMemoryState {
    /// A value and the revision that wrote it.
    struct Stored {
        var value: String
        var revision: Int64
    }

    /// The entries of one namespace and the sorted index that pages them.
    struct Namespace {
        private(set) var entries = KeyTable<Stored>()
        private(set) var index = SortedKeyIndex()

        mutating func write(_ key: String, _ stored: Stored) {
            if entries.updateValue(stored, forKey: key) {
                index.inserted(key)
            }
        }

        /// Merges keys written since the last page into the sorted index.
        mutating func refreshIndex() {
            let entries = self.entries
            index.refresh { entries.position(of: $0) != nil }
        }

        mutating func remove(_ key: String) {
            if entries.removeValue(forKey: key) != nil {
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

    /// The namespaces by name; an emptied namespace stays.
    ///
    /// A dictionary of structs, changed in place through its subscript. (An
    /// array of namespaces indexed through a `KeyTable` once crashed release
    /// builds; the cause was the state stored inline in its `Mutex`, which
    /// `LockedState` now avoids.)
    private var spaces: [ByteKey: Namespace] = [:]
    var revision: Int64 = 0
    var blobs: [String: Blob] = [:]
    var uploads: [Int64: Upload] = [:]
    var lastUploadID: Int64 = 0

    /// The value and revision stored under `key`.
    func current(_ namespace: String, _ key: String) -> Stored? {
        spaces[ByteKey(namespace)]?.entries[key]
    }

    /// Every entry of `namespace`, in no particular order.
    func list(_ namespace: String) -> [(key: String, value: String)] {
        guard let entries = spaces[ByteKey(namespace)]?.entries else { return [] }
        var result: [(key: String, value: String)] = []
        result.reserveCapacity(entries.count)
        entries.forEach { result.append((key: $0.key, value: $0.value!.value)) }
        return result
    }

    /// `namespace` with its sorted index brought up to date, for paging.
    mutating func indexedNamespace(_ namespace: String) -> Namespace? {
        spaces[ByteKey(namespace)]?.refreshIndex()
        return spaces[ByteKey(namespace)]
    }

    /// Advances the store's revision counter and returns the new revision.
    mutating func nextRevision() -> Int64 {
        revision += 1
        return revision
    }

    mutating func put(_ namespace: String, _ key: String, _ value: String, revision: Int64) {
        spaces[ByteKey(namespace), default: Namespace()].write(key, Stored(value: value, revision: revision))
    }

    mutating func delete(_ namespace: String, _ key: String) {
        spaces[ByteKey(namespace)]?.remove(key)
    }
}
