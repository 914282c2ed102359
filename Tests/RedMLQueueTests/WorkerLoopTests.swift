import Foundation
import RedML
import Testing

@testable import RedMLQueue

/// Worker loops on a store that answers at once (``MLImmediateStore``): each
/// slot claims and runs its own jobs, and idle slots are woken one at a time.
@Suite("Worker loops on an immediate store")
struct WorkerLoopTests {
    /// Sixteen idle slots, one submission at a time: each arrival wakes one
    /// loop, which wakes one more after its claim, not all sixteen, which
    /// would each claim under the store's lock for nothing.
    @Test func anArrivalWakesOneIdleLoopNotAll() async throws {
        let store = ClaimCountingStore()
        let h = Harness(store: store)
        let workers = h.start(workerConfiguration(count: 16)) { workers in
            workers.register(.train) { _ in [:] }
        }
        // The manual clock never ends a poll wait: after each loop's first claim, only wake-ups claim.
        try await eventually("each loop's first claim") { store.claims.value == 16 }
        let jobs = 20
        for index in 0..<jobs {
            let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m\(index)"))
            try await eventually("job \(index) completed") { try await h.queue.job(id)?.status == .completed }
        }
        try await workers.stop()
        let claims = store.claims.value - 16
        // Per job: the loop woken claims it and wakes one more, whose claim finds nothing, and claims
        // once more after running it (a claim that took a job cannot tell whether more are ready): three,
        // a few more where wake-ups cross. Waking every idle loop costs sixteen.
        #expect(claims >= jobs)
        #expect(claims <= 4 * jobs, "\(claims) claims for \(jobs) jobs: idle loops woke together")
    }
}

/// The in-memory store, counting claims; as immediate as the store it wraps.
private final class ClaimCountingStore: ForwardingStore, MLImmediateStore, MLIndexClaiming {
    private let memory = InMemoryMLPersistence()
    var base: any MLStore { memory }
    let claims = Locked(0)

    func claim<T: Sendable>(
        namespace: String, prefix: String, after: String?, limit: Int, recordNamespace: String,
        _ body: @escaping @Sendable ([MLClaimCandidate]) throws -> (MLBatch, T)
    ) async throws -> (MLRevision, T) {
        claims.withLock { $0 += 1 }
        return try await memory.claim(
            namespace: namespace, prefix: prefix, after: after, limit: limit, recordNamespace: recordNamespace, body)
    }
}
