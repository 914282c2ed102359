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
        // Called by nearly every claim (most reach the end of the queue), so nothing is built
        // while no place is saved anywhere.
        cursors.withLock { cursors in
            guard !cursors.isEmpty else { return }
            cursors.removeValue(forKey: Self.slot(queue, kinds))
        }
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

/// How one claim pages through a queue's ready entries past jobs it passes
/// over, the same for both claim paths: how much each round asks for, when to
/// stop, and where to look next (the place ``ClaimResume`` saved, once).
struct ClaimScan {
    /// What a claim does after a round.
    enum Step {
        /// Looks on after this key.
        case lookAfter(String?)
        /// Stops; `exhausted` tells the claim loop it need not look again before a wake-up.
        case stop(exhausted: Bool)
    }

    let queue: String
    let kinds: Set<MLJob.Kind>?
    let resume: ClaimResume
    private var scanned = 0
    private var rounds = 0
    private var jumped = false

    init(queue: String, kinds: Set<MLJob.Kind>?, resume: ClaimResume) {
        self.queue = queue
        self.kinds = kinds
        self.resume = resume
    }

    /// How many entries the next round asks for, with `wanted` more jobs to take. The first
    /// round asks for what it can take (on PostgreSQL, locking more would hide jobs from other
    /// claimers) and leaves half the scan for later rounds, which follow jobs passed over and
    /// take more at once.
    func size(wanted: Int) -> Int {
        rounds == 0 ? min(wanted, MLJobQueue.claimScanLimit / 2) : max(wanted, MLJobQueue.passOverBatch)
    }

    /// What to do after a round that looked at `picked` entries, the last at
    /// `lastKey`: `reachedEnd` when no entry is left after it, `filled` when
    /// the claim has all it can take.
    mutating func next(picked: Int, lastKey: String?, reachedEnd: Bool, filled: Bool) -> Step {
        rounds += 1
        scanned += picked
        if reachedEnd {
            resume.reset(queue: queue, kinds: kinds)
            // A full claim may have left jobs after the last one it took: not exhausted.
            return .stop(exhausted: !filled)
        }
        if filled { return .stop(exhausted: false) }
        if scanned >= MLJobQueue.claimScanLimit {
            resume.save(lastKey, queue: queue, kinds: kinds)
            // A place saved by a claim that did not jump: the next claim jumps there at once.
            // After a jump, wait for a wake-up, so a queue of nothing but others' jobs costs
            // two claims per wake-up, not a busy loop.
            return .stop(exhausted: jumped)
        }
        // Only jobs passed over (or stale entries) so far: go on from the place the last claim
        // that ran out of scan saved (used once: jobs before it are looked at again from the
        // head next time), so that jobs past the scan limit are reached too.
        if rounds == 1, let place = resume.take(queue: queue, kinds: kinds, beyond: lastKey) {
            jumped = true
            return .lookAfter(place)
        }
        return .lookAfter(lastKey)
    }
}
