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
        private(set) var entries = KeyTable()
        private(set) var index = SortedKeyIndex()

        mutating func write(_ key: String, _ value: String, revision: Int64) {
            if entries.updateValue(value, revision: revision, forKey: key) {
                index.inserted(key)
            }
        }

        /// Applies the writes since the last page to the sorted index.
        mutating func refreshIndex() {
            let entries = self.entries
            index.refresh(allKeys: {
                var keys: [String] = []
                keys.reserveCapacity(entries.count)
                entries.forEach { keys.append($0.key) }
                return keys
            }, isLive: { entries.position(of: $0) != nil })
        }

        /// The value stored under `key`, for the hot `get` path.
        ///
        /// Mutating only so that callers reach the namespace in place, through
        /// the array's modify accessor: read through its getter, the compiler
        /// copies the namespace around the lookup, retaining all its arrays.
        mutating func value(_ key: String) -> String? {
            entries.value(forKey: key)
        }

        /// The revision stored under `key`; mutating for the reason ``value(_:)`` gives.
        mutating func storedRevision(_ key: String) -> Int64? {
            guard let position = entries.position(of: key) else { return nil }
            return entries.revision(at: position)
        }

        /// The value and revision stored under `key`.
        func stored(_ key: String) -> Stored? {
            guard let position = entries.position(of: key) else { return nil }
            return Stored(value: entries.entries[position].value, revision: entries.revision(at: position))
        }

        mutating func remove(_ key: String) {
            if entries.removeValue(forKey: key) {
                index.removed(key)
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
    /// Counts changes to entries (puts, deletes, batches), so that a reader
    /// that sees an unchanged count knows its cached reads still hold.
    var changeCount: Int64 = 0
    var blobs: [BlobKey: Blob] = [:]
    var uploads: [Int64: Upload] = [:]
    var lastUploadID: Int64 = 0
    /// Index entries that claims in flight picked and have not yet committed
    /// or given up; other claims skip them.
    var claimReservations: Set<ReservedEntry> = []

    /// The value stored under `key`; see ``Namespace/value(_:)`` for why it is mutating.
    mutating func value(_ namespace: String, _ key: String) -> String? {
        guard let space = namespaces.position(of: namespace) else { return nil }
        return namespaces.spaces[space].value(key)
    }

    /// The revision stored under `key`, for checking a batch's conditions;
    /// see ``Namespace/value(_:)`` for why it is mutating.
    mutating func storedRevision(_ namespace: String, _ key: String) -> Int64? {
        guard let space = namespaces.position(of: namespace) else { return nil }
        return namespaces.spaces[space].storedRevision(key)
    }

    /// The value and revision stored under `key`.
    func current(_ namespace: String, _ key: String) -> Stored? {
        guard let position = namespaces.position(of: namespace) else { return nil }
        return namespaces.spaces[position].stored(key)
    }

    /// Every entry of `namespace`, in no particular order.
    func list(_ namespace: String) -> [(key: String, value: String)] {
        guard let position = namespaces.position(of: namespace) else { return [] }
        let entries = namespaces.spaces[position].entries
        var result: [(key: String, value: String)] = []
        result.reserveCapacity(entries.count)
        entries.forEach { result.append((key: $0.key, value: $0.value)) }
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
        namespaces.spaces[position].write(key, value, revision: revision)
    }

    mutating func delete(_ namespace: String, _ key: String) {
        guard let position = namespaces.position(of: namespace) else { return }
        namespaces.spaces[position].remove(key)
    }
}

/// A blob's SHA-256 as a dictionary key that hashes only the first 8 bytes
/// of its text, read once: a digest's leading digits are as random as the
/// rest, and hashing all 64 (on every commit and again on each doubling of the
/// table) was a visible share of an in-memory registration. Equality compares
/// the whole text.
struct BlobKey: Hashable {
    let sha256: String
    private let leading: UInt64

    init(_ sha256: String) {
        self.sha256 = sha256
        var leading: UInt64 = 0
        for byte in sha256.utf8.prefix(8) { leading = leading << 8 | UInt64(byte) }
        self.leading = leading
    }

    /// By bytes, as ``ByteKey`` compares.
    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.leading == rhs.leading && ByteKey(lhs.sha256) == ByteKey(rhs.sha256)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(leading)
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
        guard names.count <= Self.linearLimit else { return index[ByteKey(name)] }
        // Compared without a closure that captures `names`, which would retain it (see LookupKey).
        let lookup = name.withUTF8Bytes { LookupKey($0, hash: 0) }
        guard lookup.isInline else {
            return name.withUTF8Bytes { bytes in names.firstIndex { $0.string.hasBytes(bytes) } }
        }
        for position in names.indices where names[position].string.withUTF8Bytes({ lookup.matches($0) }) {
            return position
        }
        return nil
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
