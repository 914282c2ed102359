/// A hash table from string keys, compared by UTF-8 bytes, to a value and
/// the revision that wrote it.
///
/// Entries live in dense arrays in insertion order (so iteration is a linear
/// walk and growth never re-reads key bytes); a power-of-two array of 32-bit
/// slots indexes them by hash with linear probing. The layout is set by what
/// a lookup touches: four-byte slots keep the index of a 100k-key table at
/// 512 KiB, small enough to stay in cache, and a 32-byte ``Entry`` holds just
/// the key and value, so a hit reads one cache line of entries. Hashes and
/// revisions, which a lookup never needs, sit in a parallel array.
///
/// A slot is 0 when empty, ``tombstone`` after a delete, and otherwise holds
/// the entry's position plus one in its low log2(capacity) bits and the top
/// bits of the key's hash above them, so most probes that miss never touch an
/// entry. Deleted entries stay behind, emptied, until the next rebuild
/// compacts them away.
struct KeyTable {
    /// One key and its value.
    struct Entry {
        var key: String
        var value: String
    }

    /// What only writes, rebuilds and ``InMemoryState/Stored`` reads need.
    private struct Meta {
        let hash: UInt64
        /// 0 once the entry is deleted: revisions start at 1.
        var revision: Int64
    }

    // With at least 16 slots, the load limit keeps a position plus one below
    // capacity - 1, so no live slot has all position bits set, as the tombstone does.
    private static var tombstone: UInt32 { .max }
    /// The most entries, deleted ones included, per eight slots.
    private static var maxLoadEighths: Int { 7 }
    /// 2^30 slots: past it a position no longer leaves room for tag bits.
    private static var maxCapacity: Int { 1 << 30 }
    /// The most live keys a rebuild can still fit into ``maxCapacity`` slots.
    private static var maxKeys: Int { maxCapacity / 8 * maxLoadEighths / 2 }

    /// Every entry added since the last rebuild, deleted ones included.
    private(set) var entries: ContiguousArray<Entry> = []
    /// `meta[i]` belongs to `entries[i]`.
    private var meta: ContiguousArray<Meta> = []
    private var slots = ContiguousArray<UInt32>(repeating: 0, count: 16)
    /// The number of live entries.
    private(set) var count = 0
    private let hasher = KeyHasher()

    /// Where `key` is: its position in `entries` (or -1 if absent), and its slot
    /// (or, if absent, the empty slot where it would go).
    @inline(__always)
    private func probe(_ key: String) -> (entry: Int, slot: Int, hash: UInt64) {
        let hasher = self.hasher
        let lookup = key.withUTF8Bytes { LookupKey($0, hash: hasher.hash($0)) }
        if lookup.isInline {
            let found = probe(lookup.hash) { $0.withUTF8Bytes { lookup.matches($0) } }
            return (found.entry, found.slot, lookup.hash)
        }
        // A longer key is compared in place, at the cost of the copies LookupKey avoids.
        let found = key.withUTF8Bytes { bytes in probe(lookup.hash) { $0.hasBytes(bytes) } }
        return (found.entry, found.slot, lookup.hash)
    }

    /// Where the key that hashes to `hash` and that `matches` accepts is; see ``probe(_:)``.
    @inline(__always)
    private func probe(_ hash: UInt64, _ matches: (String) -> Bool) -> (entry: Int, slot: Int) {
        let mask = slots.count - 1
        let positionMask = UInt32(truncatingIfNeeded: mask)
        let tag = UInt32(truncatingIfNeeded: hash &>> 32) & ~positionMask
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let word = slots[slot]
            if word == 0 { return (-1, slot) }
            // The tag makes a false match rare, so compare the key itself rather
            // than first loading the stored hash from another array.
            if word & ~positionMask == tag, word != Self.tombstone {
                let position = Int(word & positionMask) &- 1
                if matches(entries[position].key) { return (position, slot) }
            }
            slot = (slot &+ 1) & mask
        }
    }

    /// The slot word for the entry at `position` whose key hashes to `hash`.
    @inline(__always)
    private func word(_ hash: UInt64, _ position: Int) -> UInt32 {
        let positionMask = UInt32(truncatingIfNeeded: slots.count - 1)
        return UInt32(truncatingIfNeeded: hash &>> 32) & ~positionMask | UInt32(truncatingIfNeeded: position + 1)
    }

    /// The position in `entries` of `key`, if the table holds it.
    func position(of key: String) -> Int? {
        let found = probe(key).entry
        return found < 0 ? nil : found
    }

    /// The value stored under `key`.
    func value(forKey key: String) -> String? {
        guard let position = position(of: key) else { return nil }
        return entries[position].value
    }

    /// The revision that wrote the entry at `position`.
    func revision(at position: Int) -> Int64 {
        meta[position].revision
    }

    /// Stores `value` under `key`; returns whether the key is new to the table.
    @discardableResult
    mutating func updateValue(_ value: String, revision: Int64, forKey key: String) -> Bool {
        if entries.count + 1 > slots.count / 8 * Self.maxLoadEighths {
            rebuild(forCount: count)
        }
        let (position, slot, hash) = probe(key)
        if position >= 0 {
            entries[position].value = value
            meta[position].revision = revision
            return false
        }
        slots[slot] = word(hash, entries.count)
        entries.append(Entry(key: key, value: value))
        meta.append(Meta(hash: hash, revision: revision))
        count += 1
        return true
    }

    /// Removes `key`; returns whether the table held it.
    @discardableResult
    mutating func removeValue(forKey key: String) -> Bool {
        let (position, slot, _) = probe(key)
        guard position >= 0 else { return false }
        entries[position] = Entry(key: "", value: "")  // free the strings now, not at the next rebuild
        meta[position].revision = 0
        // A slot followed by an empty one ends every probe run through it, so it can be empty too.
        slots[slot] = slots[(slot + 1) & (slots.count - 1)] == 0 ? 0 : Self.tombstone
        count -= 1
        if entries.count > 64, count < entries.count / 4 {
            rebuild(forCount: count)  // keep iteration proportional to the live entries
        }
        return true
    }

    /// Calls `body` with every live entry, in insertion order.
    func forEach(_ body: (Entry) -> Void) {
        for position in entries.indices where meta[position].revision != 0 {
            body(entries[position])
        }
    }

    /// Drops deleted entries and re-indexes the rest, using the stored hashes,
    /// in a table that `count` entries fill to no more than half its load limit.
    private mutating func rebuild(forCount count: Int) {
        if self.count < entries.count {
            var kept = 0
            for position in entries.indices where meta[position].revision != 0 {
                entries.swapAt(kept, position)
                meta.swapAt(kept, position)
                kept += 1
            }
            entries.removeLast(entries.count - kept)
            meta.removeLast(meta.count - kept)
        }
        var capacity = 16
        while capacity / 8 * Self.maxLoadEighths < count * 2 { capacity *= 2 }
        precondition(capacity <= Self.maxCapacity, "an in-memory namespace holds at most \(Self.maxKeys) keys")
        entries.reserveCapacity(capacity / 8 * Self.maxLoadEighths)
        meta.reserveCapacity(capacity / 8 * Self.maxLoadEighths)
        slots = ContiguousArray(repeating: 0, count: capacity)
        let mask = capacity - 1
        for position in meta.indices {
            let hash = meta[position].hash
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = word(hash, position)
        }
    }
}
