import RedMLCore
import RedMLPersistence
import Synchronization

/// Jobs this process submitted, with the exact JSON stored for each, so that
/// a claim that reads that same JSON back need not decode it again (decoding
/// with Foundation's `JSONDecoder` was the largest cost of a claim).
///
/// A lookup matches on the stored text itself, compared byte for byte, so it
/// holds on every backend and whatever happened to the record meanwhile: a
/// record changed since (by this process, another one or a hand edit) no
/// longer matches and is decoded as usual. A job is remembered only if its
/// JSON decodes back to exactly the job (see ``readsBackExactly(_:)``).
///
/// Memory is bounded: two generations of at most ``capacity`` jobs each; when
/// the newer one fills up, the older one is dropped. Records longer than
/// ``largestRecord`` (a big spec) are not kept, so the bound holds in bytes too.
final class DecodedJobs: Sendable {
    /// Jobs per generation.
    static let capacity = 4096
    /// The longest record kept, in UTF-8 bytes: 16 KiB.
    static let largestRecord = 16 << 10

    private struct State {
        var current: [String: (json: String, job: MLJob)] = [:]
        var previous: [String: (json: String, job: MLJob)] = [:]
    }

    private let state = Mutex(State())

    /// Remembers `jobs`, just stored as `json` (in the same order).
    func remember(_ jobs: [MLJob], storedAs json: [String]) {
        let exact = zip(jobs, json).filter { $0.1.utf8.count <= Self.largestRecord && Self.readsBackExactly($0.0.spec) }
        guard !exact.isEmpty else { return }
        state.withLock { state in
            for (job, json) in exact {
                if state.current.count >= Self.capacity {
                    // The old generation's table, emptied, takes the new one: a new table would grow
                    // through a dozen rehashes on its way to the capacity.
                    swap(&state.previous, &state.current)
                    state.current.removeAll(keepingCapacity: true)
                }
                state.current[job.key] = (json, job)
            }
        }
    }

    /// The job stored under `key` as exactly `json`, if remembered; forgets it
    /// when `forget` is set (a claim moves the job on).
    func job(_ key: String, storedAs json: String, forget: Bool = false) -> MLJob? {
        state.withLock { state in
            if let found = state.current[key], found.json == json {
                if forget { state.current[key] = nil }
                return found.job
            }
            if let found = state.previous[key], found.json == json {
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
