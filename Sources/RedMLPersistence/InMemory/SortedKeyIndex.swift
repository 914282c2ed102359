/// The keys of one namespace in byte order, for paging.
///
/// The keys live in sorted chunks of at most ``maximumChunk`` keys, in order
/// (the leaves of a two-level B-tree), so a key is added or removed in
/// O(log n) plus a move of at most one chunk: a queue's ready index, where
/// each claim follows a submission, stays as cheap to page at a million keys
/// as at ten. (The one sorted array this replaces was merged whole on the
/// first page after any write: O(n) per claim.) swift-collections' B-tree
/// `SortedSet` is still an unstable draft, so this is kept small and local.
///
/// Writes are only logged, in O(1), and applied when a page is read, so a
/// put that nobody pages after stays cheap. A log that grows past the index's
/// size (a bulk load, or a namespace nobody pages) is dropped, and the next
/// page sorts every key again, which then costs less than replaying it.
struct SortedKeyIndex {
    /// A place in the index: a chunk, and a position in it.
    struct Place: Comparable {
        var chunk: Int
        var offset: Int

        static func < (lhs: Place, rhs: Place) -> Bool {
            (lhs.chunk, lhs.offset) < (rhs.chunk, rhs.offset)
        }
    }

    /// The most keys in one chunk; a fuller one is split in two.
    static let maximumChunk = 512
    /// A chunk emptier than this is merged with a neighbour that has room.
    static let minimumChunk = 64

    private var chunks: [[String]] = []
    /// Keys at the front of the first chunk that were removed and not yet
    /// moved out: a queue takes keys from the front, and moving the rest of
    /// the chunk up for each would cost a copy of the chunk per claim.
    private var head = 0
    /// Keys written and keys removed since the last refresh, in no order.
    private var insertedLog: [String] = []
    private var removedLog: [String] = []
    /// The logs were dropped: the next refresh rebuilds the index from every key.
    private var needsRebuild = false
    /// The keys in `chunks`.
    private(set) var count = 0

    /// Records a key that was not in the namespace before.
    mutating func inserted(_ key: String) {
        guard !needsRebuild else { return }
        insertedLog.append(key)
        dropLongLogs()
    }

    /// Records that `key` left the namespace.
    mutating func removed(_ key: String) {
        guard !needsRebuild else { return }
        removedLog.append(key)
        dropLongLogs()
    }

    private mutating func dropLongLogs() {
        guard insertedLog.count + removedLog.count > max(1024, count / 2) else { return }
        needsRebuild = true
        insertedLog = []
        removedLog = []
    }

    /// Brings the index up to date: exactly the keys for which `isLive`
    /// holds, which `allKeys` lists (in any order) when the index is rebuilt.
    mutating func refresh(allKeys: () -> [String], isLive: (String) -> Bool) {
        if needsRebuild {
            rebuild(allKeys())
            return
        }
        guard !insertedLog.isEmpty || !removedLog.isEmpty else { return }
        // Against the namespace as it is now, whatever happened in between (a key deleted and
        // written again is live, and present once).
        for key in removedLog where !isLive(key) { remove(key) }
        for key in insertedLog where isLive(key) { insert(key) }
        insertedLog.removeAll(keepingCapacity: true)
        removedLog.removeAll(keepingCapacity: true)
    }

    private mutating func rebuild(_ keys: [String]) {
        let sorted = keys.sorted(by: MLKeyOrder.less)
        // Half full, so that keys written later in between have room.
        let size = Self.maximumChunk / 2
        chunks = stride(from: 0, to: sorted.count, by: size).map { Array(sorted[$0..<min($0 + size, sorted.count)]) }
        head = 0
        count = sorted.count
        needsRebuild = false
        insertedLog = []
        removedLog = []
    }

    private mutating func insert(_ key: String) {
        guard let last = chunks.last?.last else {
            chunks = [[key]]
            head = 0
            count = 1
            return
        }
        // Keys that order by time mostly arrive last: no search.
        let chunk = MLKeyOrder.less(last, key) ? chunks.count - 1 : min(chunkHolding(key), chunks.count - 1)
        if chunk == 0 { dropHead() }
        let offset = Self.lowerBound(key, in: chunks[chunk])
        guard offset == chunks[chunk].count || !Self.sameBytes(chunks[chunk][offset], key) else { return }
        chunks[chunk].insert(key, at: offset)
        count += 1
        if chunks[chunk].count > Self.maximumChunk {
            let half = chunks[chunk].count / 2
            let upper = Array(chunks[chunk][half...])
            chunks[chunk].removeSubrange(half...)
            chunks.insert(upper, at: chunk + 1)
        }
    }

    private mutating func remove(_ key: String) {
        // A queue takes its keys from the front: no search, and nothing moved.
        if let first = chunks.first, Self.sameBytes(first[head], key) {
            count -= 1
            head += 1
            if head == first.count {
                chunks.removeFirst()
                head = 0
            }
            return
        }
        let chunk = chunkHolding(key)
        guard chunk < chunks.count else { return }
        if chunk == 0 { dropHead() }
        let offset = Self.lowerBound(key, in: chunks[chunk])
        guard offset < chunks[chunk].count, Self.sameBytes(chunks[chunk][offset], key) else { return }
        chunks[chunk].remove(at: offset)
        count -= 1
        if chunks[chunk].isEmpty {
            chunks.remove(at: chunk)
        } else if chunks[chunk].count < Self.minimumChunk, chunk + 1 < chunks.count,
            chunks[chunk].count + chunks[chunk + 1].count <= Self.maximumChunk
        {
            chunks[chunk].append(contentsOf: chunks[chunk + 1])
            chunks.remove(at: chunk + 1)
        }
    }

    /// Moves the removed keys out of the first chunk, before it changes otherwise.
    private mutating func dropHead() {
        guard head > 0 else { return }
        chunks[0].removeFirst(head)
        head = 0
    }

    // MARK: Reading

    /// The place of the first key.
    var start: Place { Place(chunk: 0, offset: chunks.isEmpty ? 0 : head) }
    /// The place after the last key.
    var end: Place { Place(chunk: chunks.count, offset: 0) }

    /// The key at `place`, which must be before ``end``.
    func key(at place: Place) -> String { chunks[place.chunk][place.offset] }

    /// The place after `place`.
    func place(after place: Place) -> Place {
        place.offset + 1 < chunks[place.chunk].count
            ? Place(chunk: place.chunk, offset: place.offset + 1)
            : Place(chunk: place.chunk + 1, offset: 0)
    }

    /// The place before `place`, which must be after ``start``.
    func place(before place: Place) -> Place {
        place.offset > 0
            ? Place(chunk: place.chunk, offset: place.offset - 1)
            : Place(chunk: place.chunk - 1, offset: chunks[place.chunk - 1].count - 1)
    }

    /// The place of the first key that is not less than `key`.
    func lowerBound(_ key: String) -> Place {
        let chunk = chunkHolding(key)
        guard chunk < chunks.count else { return end }
        let offset = Self.lowerBound(key, in: chunks[chunk])
        return Place(chunk: chunk, offset: chunk == 0 ? max(head, offset) : offset)
    }

    /// The place of the first key greater than `key`.
    func upperBound(_ key: String) -> Place {
        // The first chunk whose last key is greater than `key` holds it.
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if MLKeyOrder.less(key, chunks[mid][chunks[mid].count - 1]) { high = mid } else { low = mid + 1 }
        }
        guard low < chunks.count else { return end }
        let keys = chunks[low]
        var first = 0
        var last = keys.count
        while first < last {
            let mid = (first + last) / 2
            if MLKeyOrder.less(key, keys[mid]) { last = mid } else { first = mid + 1 }
        }
        return Place(chunk: low, offset: low == 0 ? max(head, first) : first)
    }

    /// The first chunk whose last key is not less than `key` (``end``'s chunk if none).
    private func chunkHolding(_ key: String) -> Int {
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if MLKeyOrder.less(chunks[mid][chunks[mid].count - 1], key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Whether two keys are the same key: by bytes, as the store compares them
    /// (`==` on strings is canonical equivalence: "caf\u{E9}" == "cafe\u{301}").
    private static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        rhs.withUTF8Bytes { lhs.hasBytes($0) }
    }

    private static func lowerBound(_ key: String, in keys: [String]) -> Int {
        var low = 0
        var high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if MLKeyOrder.less(keys[mid], key) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
