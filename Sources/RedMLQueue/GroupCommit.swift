import RedMLPersistence
import Synchronization

/// Commits job transitions in groups: while a few commits are in flight, the
/// transitions that arrive meanwhile wait, and the next commit carries them
/// all as one batch.
///
/// A transition is committed at once while fewer than `whileFlowing`
/// commits are running, so nothing waits longer than one commit. When the
/// newest commit has run for `stallAfter` (a row lock held elsewhere, say),
/// another may start, up to `maximumInFlight`: a new arrival leads one, and
/// transitions already waiting get one at `stallAfter`. Such an extra commit
/// carries one group and ends, so the lanes shrink back once commits flow.
/// Under load, N completions cost one commit (one `fsync` on PostgreSQL)
/// instead of N; the fewer commits run at once, the more each carries. Every entry a commit writes gets the commit's revision, which every
/// store guarantees, so each caller learns the revision it wrote as if it had
/// committed alone.
///
/// Transitions of different jobs touch different keys. When a group fails (a
/// condition of one of them failed, or anything else), each transition of the
/// group is committed on its own, so each caller gets its own answer: the one
/// that conflicted sees its conflict, and the others are not held back by it.
final class GroupCommit<Work: Sendable>: Sendable {
    /// What a waiting caller is told: commit the next group yourself, or here is your result.
    private enum Turn: Sendable {
        case lead
        case done(Result<MLRevision, any Error>)
    }

    private struct Waiter {
        let batch: Work
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct State {
        var inFlight = 0
        var waiting: [Waiter] = []
        /// When the newest commit started.
        var lastStart = ContinuousClock.now
        /// Whether a check for a stalled commit is due (``escapeIfStalled()``).
        var escapeScheduled = false
    }

    private let state = Mutex(State())
    /// Commits a group as one write; every piece gets the write's revision.
    private let commitAll: @Sendable ([Work]) async throws -> MLRevision
    /// How many operations a piece of work counts for against ``operationLimit``.
    private let cost: @Sendable (Work) -> Int
    /// At most this many operations per group commit (a group never splits one transition).
    private let operationLimit: Int
    /// At most this many commits at once; later transitions wait and form a group.
    let maximumInFlight: Int
    /// At most this many while commits keep finishing within ``stallAfter``.
    let whileFlowing: Int
    /// How long the newest commit may run before another may start beside it.
    let stallAfter: Duration

    /// Groups transitions for `commit`: at most `whileFlowing` commits at
    /// once (default: `maximumInFlight`), and up to `maximumInFlight` while
    /// the newest has run for `stallAfter`; each of at most about
    /// `operationLimit` operations.
    init(
        maximumInFlight: Int = 4, whileFlowing: Int? = nil, stallAfter: Duration = .milliseconds(100),
        operationLimit: Int = 2_000, cost: @escaping @Sendable (Work) -> Int,
        commitAll: @escaping @Sendable ([Work]) async throws -> MLRevision
    ) {
        self.maximumInFlight = max(1, maximumInFlight)
        self.whileFlowing = min(self.maximumInFlight, max(1, whileFlowing ?? maximumInFlight))
        self.stallAfter = stallAfter
        self.operationLimit = operationLimit
        self.cost = cost
        self.commitAll = commitAll
    }

    /// How many transitions are waiting for a commit to carry them.
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Commits `batch`, alone or in a group; returns the revision it was written at.
    func commit(_ batch: Work) async throws -> MLRevision {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let (leads, escapeCheck) = state.withLock { state -> (Bool, Duration?) in
                let now = ContinuousClock.now
                if startCommit(&state, now: now) { return (true, nil) }
                state.waiting.append(Waiter(batch: batch, continuation: continuation))
                return (false, scheduleEscape(&state, now: now))
            }
            if leads { continuation.resume(returning: .lead) }
            if let escapeCheck { checkForStall(after: escapeCheck) }
        }
        switch turn {
        case .done(let result):
            return try result.get()
        case .lead:
            return try await lead(with: batch).get()
        }
    }

    /// Commits `own` with everything waiting (up to the limit), answers the
    /// others, and hands the next turn to the first one still waiting.
    private func lead(with own: Work) async -> Result<MLRevision, any Error> {
        let others = state.withLock { state -> [Waiter] in
            var operations = cost(own)
            var count = 0
            for waiter in state.waiting {
                guard operations + cost(waiter.batch) <= operationLimit else { break }
                operations += cost(waiter.batch)
                count += 1
            }
            defer { state.waiting.removeFirst(count) }
            return Array(state.waiting.prefix(count))
        }
        let batches = [own] + others.map(\.batch)
        // Others' writes must not fail because this caller's task was cancelled (PostgreSQL
        // cancels a cancelled task's queries), so a group commits in a task of its own.
        let results = others.isEmpty ? await commitGroup(batches) : await Task { await self.commitGroup(batches) }.value
        for (waiter, result) in zip(others, results.dropFirst()) {
            waiter.continuation.resume(returning: .done(result))
        }
        let (next, escapeCheck) = state.withLock { state -> (Waiter?, Duration?) in
            // A commit beyond `whileFlowing` (one that a stall let start) ends here; the
            // others carry what waits, or a stall check lets another start.
            guard !state.waiting.isEmpty, state.inFlight <= whileFlowing else {
                state.inFlight -= 1
                return (nil, state.waiting.isEmpty ? nil : scheduleEscape(&state, now: .now))
            }
            state.lastStart = .now
            return (state.waiting.removeFirst(), nil)
        }
        // The next leader commits its own batch with whatever queued up behind it.
        next?.continuation.resume(returning: .lead)
        if let escapeCheck { checkForStall(after: escapeCheck) }
        return results[0]
    }

    /// Counts a commit as started now if one may start: fewer than
    /// ``whileFlowing`` run, or fewer than ``maximumInFlight`` and the newest
    /// has run for ``stallAfter``.
    private func startCommit(_ state: inout State, now: ContinuousClock.Instant) -> Bool {
        let stalled = now - state.lastStart >= stallAfter
        guard state.inFlight < whileFlowing || (state.inFlight < maximumInFlight && stalled) else { return false }
        state.inFlight += 1
        state.lastStart = now
        return true
    }

    /// When to look whether the newest commit has stalled, if another may
    /// still start and no look is due yet (marking one due).
    private func scheduleEscape(_ state: inout State, now: ContinuousClock.Instant) -> Duration? {
        guard whileFlowing < maximumInFlight, state.inFlight < maximumInFlight, !state.escapeScheduled else { return nil }
        state.escapeScheduled = true
        return max(.zero, stallAfter - (now - state.lastStart))
    }

    /// Lets the first waiting transition lead a commit of its own after
    /// `delay`, if the newest commit has run for ``stallAfter`` by then.
    private func checkForStall(after delay: Duration) {
        // A timer, not part of any caller's work: it only hands a waiting caller its turn.
        Task {
            try? await Task.sleep(for: delay)
            escapeIfStalled()
        }
    }

    private func escapeIfStalled() {
        let (leader, again) = state.withLock { state -> (Waiter?, Duration?) in
            state.escapeScheduled = false
            guard !state.waiting.isEmpty else { return (nil, nil) }
            let now = ContinuousClock.now
            guard startCommit(&state, now: now) else { return (nil, scheduleEscape(&state, now: now)) }
            return (state.waiting.removeFirst(), nil)
        }
        leader?.continuation.resume(returning: .lead)
        if let again { checkForStall(after: again) }
    }

    private func commitGroup(_ batches: [Work]) async -> [Result<MLRevision, any Error>] {
        if batches.count > 1 {
            do {
                let revision = try await commitAll(batches)
                return Array(repeating: .success(revision), count: batches.count)
            } catch {
                // One at a time below, so each gets its own answer.
            }
        }
        var results: [Result<MLRevision, any Error>] = []
        for batch in batches {
            do {
                results.append(.success(try await commitAll([batch])))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

extension GroupCommit where Work == MLBatch {
    /// Groups batches for `commit`, which gets them appended into one.
    convenience init(
        maximumInFlight: Int = 4, whileFlowing: Int? = nil, stallAfter: Duration = .milliseconds(100),
        operationLimit: Int = 2_000, commit: @escaping @Sendable (MLBatch) async throws -> MLRevision
    ) {
        self.init(maximumInFlight: maximumInFlight, whileFlowing: whileFlowing, stallAfter: stallAfter,
                  operationLimit: operationLimit, cost: { $0.operations.count }) { batches in
            guard batches.count > 1 else { return try await commit(batches[0]) }
            var all = MLBatch()
            for batch in batches { all.append(contentsOf: batch) }
            return try await commit(all)
        }
    }
}
