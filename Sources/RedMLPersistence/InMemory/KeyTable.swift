/// A hash table from string keys, compared by UTF-8 bytes, to values.
///
/// Entries live in a dense array in insertion order (so iteration is a linear
/// walk and growth never re-reads key bytes); a power-of-two array of slots
/// indexes them by hash with linear probing. A slot is 0 when empty,
/// ``tombstone`` after a delete, and otherwise holds the high 32 bits of the
/// key's hash above the entry's position plus one, so most probes that miss
/// never touch an entry. Deleted entries stay behind, valueless, until the
/// next rebuild compacts them away.
struct KeyTable<Value> {
    /// One key, its full hash and its value (`nil` once deleted).
    ///
    /// Not itself optional: code reads single fields in place, whereas binding
    /// an optional element would copy (and retain) the whole entry.
    struct Entry {
        var key: String
        let hash: UInt64
        var value: Value?
    }

    private static var tombstone: UInt64 { 0xFFFF_FFFF }
    private static var positionMask: UInt64 { 0xFFFF_FFFF }

    /// Every entry added since the last rebuild, deleted ones included.
    private(set) var entries: ContiguousArray<Entry> = []
    private var slots = ContiguousArray<UInt64>(repeating: 0, count: 8)
    /// The number of live entries.
    private(set) var count = 0
    private let hasher = KeyHasher()

    /// Where `key` is: its position in `entries` (or -1 if absent), and its slot
    /// (or, if absent, the empty slot where it would go).
    private func probe(_ bytes: UnsafeRawBufferPointer, _ hash: UInt64) -> (entry: Int, slot: Int) {
        let mask = slots.count - 1
        let tag = hash & ~Self.positionMask
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let word = slots[slot]
            if word == 0 { return (-1, slot) }
            if word & ~Self.positionMask == tag, word != Self.tombstone {
                let position = Int(truncatingIfNeeded: word & Self.positionMask) - 1
                if entries[position].hash == hash, entries[position].key.hasUTF8Bytes(bytes) {
                    return (position, slot)
                }
            }
            slot = (slot + 1) & mask
        }
    }

    /// The position in `entries` of `key`, if the table holds it.
    func position(of key: String) -> Int? {
        let found = key.withUTF8Bytes { probe($0, hasher.hash($0)).entry }
        return found < 0 ? nil : found
    }

    /// The value stored under `key`.
    subscript(key: String) -> Value? {
        guard let position = position(of: key) else { return nil }
        return entries[position].value
    }

    /// Stores `value` under `key`; returns whether the key is new to the table.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: String) -> Bool {
        if entries.count + 1 > slots.count / 4 * 3 {
            rebuild(forCount: count + 1)
        }
        return key.withUTF8Bytes { bytes in
            let hash = hasher.hash(bytes)
            let (position, slot) = probe(bytes, hash)
            if position >= 0 {
                entries[position].value = value
                return false
            }
            entries.append(Entry(key: key, hash: hash, value: value))
            slots[slot] = hash & ~Self.positionMask | UInt64(entries.count)
            count += 1
            return true
        }
    }

    /// Removes `key`; returns its value if the table held it.
    @discardableResult
    mutating func removeValue(forKey key: String) -> Value? {
        let (position, slot) = key.withUTF8Bytes { probe($0, hasher.hash($0)) }
        guard position >= 0 else { return nil }
        let old = entries[position].value
        entries[position].value = nil
        entries[position].key = ""
        // A slot followed by an empty one ends every probe run through it, so it can be empty too.
        slots[slot] = slots[(slot + 1) & (slots.count - 1)] == 0 ? 0 : Self.tombstone
        count -= 1
        if entries.count > 64, count < entries.count / 4 {
            rebuild(forCount: count)  // keep iteration proportional to the live entries
        }
        return old
    }

    /// Calls `body` with every live entry, in insertion order.
    func forEach(_ body: (Entry) -> Void) {
        for entry in entries where entry.value != nil {
            body(entry)
        }
    }

    /// Drops deleted entries and re-indexes the rest in a table sized for
    /// `count` entries at no more than half load, using the stored hashes.
    private mutating func rebuild(forCount count: Int) {
        if self.count < entries.count {
            entries.removeAll { $0.value == nil }
        }
        var capacity = 8
        while capacity < count * 2 { capacity *= 2 }
        entries.reserveCapacity(capacity / 4 * 3)
        slots = ContiguousArray(repeating: 0, count: capacity)
        let mask = capacity - 1
        for position in entries.indices {
            guard entries[position].value != nil else { continue }
            let hash = entries[position].hash
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = hash & ~Self.positionMask | UInt64(position + 1)
        }
    }
}
