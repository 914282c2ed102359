import RedMLCore
import RedMLPersistence
import Synchronization

/// Jobs this process submitted, by key and the revision they were stored at,
/// so that a claim of one of them need not decode its JSON again (decoding
/// with Foundation's `JSONDecoder` was the largest cost of a claim).
///
/// A store's revision is never reused (see ``MLRevision``), so a key at a
/// revision names exactly one stored value, the one remembered here. Stores
/// that may acknowledge a write and then lose it (PostgreSQL claims, see
/// ``MLIndexClaiming``) can hand a lost revision out again, so the queue
/// keeps no cache for them. A job is remembered only if its record reads
/// back exactly as it was submitted (see ``readsBackExactly(_:)``).
///
/// Memory is bounded: two generations of at most ``capacity`` jobs each; when
/// the newer one fills up, the older one is dropped.
final class DecodedJobs: Sendable {
    /// Jobs per generation.
    static let capacity = 4096

    private struct State {
        var current: [String: (revision: MLRevision, job: MLJob)] = [:]
        var previous: [String: (revision: MLRevision, job: MLJob)] = [:]
    }

    private let state = Mutex(State())

    /// Remembers `jobs`, just stored at `revision`.
    func remember(_ jobs: some Sequence<MLJob>, at revision: MLRevision) {
        let exact = jobs.filter { Self.readsBackExactly($0.spec) }
        guard !exact.isEmpty else { return }
        state.withLock { state in
            for job in exact {
                if state.current.count >= Self.capacity {
                    state.previous = state.current
                    state.current = [:]
                }
                state.current[job.key] = (revision, job)
            }
        }
    }

    /// The job stored under `key` at `revision`, if remembered; forgets it
    /// when `forget` is set (a claim moves the job on, to a new revision).
    func job(_ key: String, at revision: MLRevision, forget: Bool = false) -> MLJob? {
        state.withLock { state in
            if let found = state.current[key], found.revision == revision {
                if forget { state.current[key] = nil }
                return found.job
            }
            if let found = state.previous[key], found.revision == revision {
                if forget { state.previous[key] = nil }
                return found.job
            }
            return nil
        }
    }

    /// Whether `spec` decodes back to the same cases: a whole-number double
    /// (`2.0`) may be read back as an integer, so a spec with one is not
    /// remembered, and a handler sees the same value whether it was cached or not.
    static func readsBackExactly(_ spec: MLJSONObject) -> Bool {
        spec.values.allSatisfy(readsBackExactly)
    }

    private static func readsBackExactly(_ value: MLJSONValue) -> Bool {
        switch value {
        case .double(let number): number.rounded(.towardZero) != number
        case .array(let values): values.allSatisfy(readsBackExactly)
        case .object(let object): readsBackExactly(object)
        case .null, .bool, .int, .string: true
        }
    }
}
