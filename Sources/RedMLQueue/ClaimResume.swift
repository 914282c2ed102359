import RedMLPersistence
import Synchronization

/// Where the last claim that ran out of scan stopped, per queue and set of
/// kinds, so the next one goes on from there instead of looking at the same
/// first thousand jobs of other kinds again and never reaching the rest.
///
/// Each claim still looks at the head of the queue first (a job submitted
/// since, at a high priority, must not wait for a full pass); only when the
/// head holds nothing it may take does it jump to the saved place, which it
/// uses up. Reaching the end of the queue forgets the place too.
final class ClaimResume: Sendable {
    private let cursors = Mutex<[String: String]>([:])

    private static func slot(_ queue: String, _ kinds: Set<MLJob.Kind>?) -> String {
        queue + "\u{0}" + (kinds.map { $0.map(\.rawValue).sorted().joined(separator: ",") } ?? "*")
    }

    /// Forgets the place: the last scan reached the end of the queue.
    func reset(queue: String, kinds: Set<MLJob.Kind>?) {
        _ = cursors.withLock { $0.removeValue(forKey: Self.slot(queue, kinds)) }
    }

    /// Remembers `key` as the place to go on from.
    func save(_ key: String?, queue: String, kinds: Set<MLJob.Kind>?) {
        guard let key else { return }
        cursors.withLock { $0[Self.slot(queue, kinds)] = key }
    }

    /// Takes the saved place, if it lies beyond `key` (the head just looked
    /// at), and forgets it: it is used once, so that a job before it (a new
    /// one at a higher priority, a retry back at its old place) is seen from
    /// the head by the next claim instead of waiting behind every job after it.
    func take(queue: String, kinds: Set<MLJob.Kind>?, beyond key: String?) -> String? {
        cursors.withLock { cursors in
            guard let saved = cursors.removeValue(forKey: Self.slot(queue, kinds)) else { return nil }
            guard let key else { return saved }
            return MLKeyOrder.less(key, saved) ? saved : nil
        }
    }
}
