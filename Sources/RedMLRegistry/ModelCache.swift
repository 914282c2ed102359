import RedMLPersistence
import Synchronization

/// Decoded model records and active versions, keyed by model name and valid
/// only for the record revision they were read at.
///
/// Every registry change rewrites the model record, so its revision is a
/// cheap test of whether anything about the model changed. When the store
/// offers a ``MLStore/localChangeCounter`` that has not moved, not even that
/// test is needed.
final class ModelCache: Sendable {
    struct Entry: Sendable {
        var revision: MLRevision
        /// The store's change counter read before the record, if it has one.
        var counter: Int64?
        var model: MLModel
        /// The active version's record, once loaded.
        var active: MLModelVersion?
        var activeLoaded: Bool
    }

    private final class Box {
        var entries: [String: Entry] = [:]
    }

    private let box = Mutex(Box())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The active version, if the store has not changed since the entry was filled.
    func active(_ name: String, counter: Int64) -> MLModelVersion?? {
        box.withLock { box in
            guard let entry = box.entries[name], entry.counter == counter, entry.activeLoaded else { return nil }
            return .some(entry.active)
        }
    }

    /// The entry for `name`, if it was read at `revision`.
    func entry(_ name: String, revision: MLRevision) -> Entry? {
        box.withLock { box in
            guard let entry = box.entries[name], entry.revision == revision else { return nil }
            return entry
        }
    }

    /// The last entry seen for `name`, whatever its revision (it may be stale).
    func latest(_ name: String) -> Entry? {
        box.withLock { $0.entries[name] }
    }

    /// Remembers `entry`, evicting everything when full (simple, and bounded).
    func store(_ name: String, _ entry: Entry) {
        guard capacity > 0 else { return }
        box.withLock { box in
            if box.entries.count >= capacity, box.entries[name] == nil {
                box.entries.removeAll(keepingCapacity: true)
            }
            box.entries[name] = entry
        }
    }

    /// Forgets `name`.
    func remove(_ name: String) {
        _ = box.withLock { $0.entries.removeValue(forKey: name) }
    }
}
