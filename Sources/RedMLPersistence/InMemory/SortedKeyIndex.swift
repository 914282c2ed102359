/// The keys of one namespace in byte order, maintained lazily.
///
/// New keys are appended unsorted and merged in only when a page is read, so a
/// put stays O(1) and paging costs O(log n) plus the page once the index is
/// current. Deleted keys stay in the sorted array until the next merge; readers
/// skip keys that the namespace no longer holds, and a run of them at the front
/// is skipped once for all readers.
struct SortedKeyIndex {
    private(set) var sorted: [String] = []
    /// Keys before this position in `sorted` are known to be deleted.
    private(set) var start = 0
    private var pending: [String] = []
    private var removals = 0

    /// Records a key that was not in the namespace before.
    mutating func inserted(_ key: String) {
        pending.append(key)
    }

    /// Records that a key left the namespace.
    mutating func removed() {
        removals += 1
    }

    /// Brings `sorted` up to date: exactly the keys for which `isLive` holds, in order.
    mutating func refresh(isLive: (String) -> Bool) {
        guard !pending.isEmpty || removals > sorted.count / 2 else {
            // A queue's index loses keys at its front: skip them here once, not on every page.
            if removals > 0 {
                while start < sorted.count, !isLive(sorted[start]) { start += 1 }
            }
            return
        }
        pending.sort(by: MLKeyOrder.less)
        var merged: [String] = []
        merged.reserveCapacity(sorted.count + pending.count)
        var i = 0
        var j = 0
        while i < sorted.count || j < pending.count {
            let next: String
            if j == pending.count || (i < sorted.count && MLKeyOrder.less(sorted[i], pending[j])) {
                next = sorted[i]
                i += 1
            } else {
                next = pending[j]
                j += 1
            }
            // A key can be both in `sorted` (deleted, then written again) and in `pending`.
            if let last = merged.last, !MLKeyOrder.less(last, next) { continue }
            if isLive(next) { merged.append(next) }
        }
        sorted = merged
        start = 0
        pending.removeAll(keepingCapacity: true)
        removals = 0
    }

    /// The position in `sorted` of the first key that is not less than `key`.
    func lowerBound(_ key: String) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if MLKeyOrder.less(sorted[mid], key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The position in `sorted` of the first key greater than `key`.
    func upperBound(_ key: String) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if MLKeyOrder.less(key, sorted[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// The first position in `sorted` where `belongs` is false; `belongs` must
    /// hold for a leading run of the keys and for none after it.
    func partitionPoint(_ belongs: (String) -> Bool) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if belongs(sorted[mid]) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
