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

    /// The namespaces; an emptied namespace stays.
    private var namespaces = NamespaceTable()
    var revision: Int64 = 0
    var blobs: [String: Blob] = [:]
    var uploads: [Int64: Upload] = [:]
    var lastUploadID: Int64 = 0

    /// The value and revision stored under `key`.
    func current(_ namespace: String, _ key: String) -> Stored? {
        guard let position = namespaces.position(of: namespace) else { return nil }
        return namespaces.spaces[position].entries[key]  // read in place: no copy of the namespace
    }

    /// Every entry of `namespace`, in no particular order.
    func list(_ namespace: String) -> [(key: String, value: String)] {
        guard let position = namespaces.position(of: namespace) else { return [] }
        let entries = namespaces.spaces[position].entries
        var result: [(key: String, value: String)] = []
        result.reserveCapacity(entries.count)
        entries.forEach { result.append((key: $0.key, value: $0.value!.value)) }
        return result
    }

    /// `namespace` with its sorted index brought up to date, for paging.
    mutating func indexedNamespace(_ namespace: String) -> Namespace? {
        guard let position = namespaces.position(of: namespace) else { return nil }
        namespaces.spaces[position].refreshIndex()
        return namespaces.spaces[position]
    }

    /// Advances the store's revision counter and returns the new revision.
    mutating func nextRevision() -> Int64 {
        revision += 1
        return revision
    }

    mutating func put(_ namespace: String, _ key: String, _ value: String, revision: Int64) {
        let position = namespaces.position(of: namespace) ?? namespaces.add(namespace)
        namespaces.spaces[position].write(key, Stored(value: value, revision: revision))
    }

    mutating func delete(_ namespace: String, _ key: String) {
        guard let position = namespaces.position(of: namespace) else { return }
        namespaces.spaces[position].remove(key)
    }
}

/// The namespaces of an in-memory store, found without hashing.
///
/// A store has a handful of namespaces and every operation looks one up, so
/// comparing the name's bytes against a short array beats hashing it; a hash
/// index takes over past ``linearLimit`` names. Namespaces are changed in place
/// through `spaces[position]`, never copied out.
struct NamespaceTable {
    private var names: [ByteKey] = []
    private var index: [ByteKey: Int] = [:]
    /// The namespaces, in the order of `names`.
    var spaces: [InMemoryState.Namespace] = []
    private static let linearLimit = 8

    /// Where the namespace called `name` is in ``spaces``, if it exists.
    func position(of name: String) -> Int? {
        let key = ByteKey(name)
        if names.count <= Self.linearLimit {
            return names.firstIndex(of: key)
        }
        return index[key]
    }

    /// Adds an empty namespace called `name` and returns its position.
    mutating func add(_ name: String) -> Int {
        let key = ByteKey(name)
        names.append(key)
        spaces.append(InMemoryState.Namespace())
        if names.count > Self.linearLimit {
            if index.isEmpty {
                for (position, name) in names.enumerated() { index[name] = position }
            } else {
                index[key] = names.count - 1
            }
        }
        return names.count - 1
    }
}
