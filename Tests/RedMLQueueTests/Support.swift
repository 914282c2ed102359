import Foundation
import Logging
import RedML
import RedMLTestFixtures
import RedMLTesting
import Synchronization
import Testing

// MARK: Time

/// Where every manual clock of the suite starts (a whole second, so Date ↔ ms round trips are exact).
let startMs: Int64 = 1_800_000_000_000

func date(ms: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(ms) / 1_000) }

struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Waits, in real time, until `condition` holds: checks every 5 ms, fails the test after `timeout`.
func eventually(
    _ what: @autoclosure () -> String, timeout: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while true {
        if try await condition() { return }
        if clock.now >= deadline {
            let description = what()
            Issue.record("timed out waiting for \(description)", sourceLocation: sourceLocation)
            throw TimedOut(description: description)
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Waits until the job satisfies `predicate`; returns the record that did.
@discardableResult
///
/// With `nudging`, a manual clock moves on by a poll interval (250 ms) after
/// each 300 ms of real time without success: on PostgreSQL a claim skips a
/// row another transaction holds (`SKIP LOCKED`), such as the loser of two
/// promotions of one job, which announces nothing, so the claim loop waits
/// for its next poll, and on a manual clock that poll comes only when the
/// clock moves.
func waitForJob(
    _ queue: MLJobQueue, _ id: UInt128, _ what: String = "the job", timeout: Duration = .seconds(30),
    nudging clock: MLManualClock? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    until predicate: (MLJob) -> Bool
) async throws -> MLJob {
    var last: MLJob?
    let began = ContinuousClock.now
    var nudges = 0
    do {
        try await eventually(what, timeout: timeout, sourceLocation: sourceLocation) {
            last = try await queue.job(id)
            if last.map(predicate) == true { return true }
            if let clock, ContinuousClock.now - began > .milliseconds(300 * (nudges + 1)) {
                nudges += 1
                clock.advance(by: .milliseconds(250))
            }
            return false
        }
    } catch let error as TimedOut {
        Issue.record("last seen: \(last.map { "\($0.status) attempt \($0.attempt) failures \($0.failures) error \($0.error ?? "-")" } ?? "nothing")",
                     sourceLocation: sourceLocation)
        throw error
    }
    return last!
}

/// Waits until the job has `status`.
@discardableResult
func waitForStatus(
    _ queue: MLJobQueue, _ id: UInt128, _ status: MLJob.Status, timeout: Duration = .seconds(30),
    nudging clock: MLManualClock? = nil, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> MLJob {
    try await waitForJob(queue, id, "status \(status)", timeout: timeout, nudging: clock, sourceLocation: sourceLocation) {
        $0.status == status
    }
}

/// Moves `clock` forward by `duration`, then until `condition` holds keeps
/// nudging it 50 ms at a time: a task that read the time just before the
/// move and went to sleep just after it would otherwise sleep a whole
/// interval from the new time.
func advance(
    _ clock: MLManualClock, by duration: Duration, until what: @autoclosure () -> String,
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    clock.advance(by: duration)
    var checks = 0
    try await eventually(what(), sourceLocation: sourceLocation) {
        if try await condition() { return true }
        checks += 1
        if checks % 4 == 0 { clock.advance(by: .milliseconds(50)) }
        return false
    }
}

// MARK: Shared state for handlers

final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }

    @discardableResult
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        mutex.withLock { value in
            var copy = value
            let result = body(&copy)
            value = copy
            return result
        }
    }

    var value: Value { mutex.withLock { $0 } }
}

/// How many times each job's handler was called.
final class Invocations: Sendable {
    private let counts = Locked<[UInt128: Int]>([:])
    private let order = Locked<[UInt128]>([])

    func record(_ id: UInt128) {
        counts.withLock { $0[id, default: 0] += 1 }
        order.withLock { $0.append(id) }
    }

    func count(_ id: UInt128) -> Int { counts.value[id] ?? 0 }
    var all: [UInt128: Int] { counts.value }
    var sequence: [UInt128] { order.value }
    var total: Int { order.value.count }
}

/// Tracks how many handlers run at once, and the most ever seen.
final class ConcurrencyMeter: Sendable {
    private let state = Locked<(current: Int, maximum: Int)>((0, 0))

    func enter() { state.withLock { $0.current += 1; $0.maximum = max($0.maximum, $0.current) } }
    func leave() { state.withLock { $0.current -= 1 } }
    var current: Int { state.value.current }
    var maximum: Int { state.value.maximum }
}

/// A one-shot latch: `wait` returns once `open` was called, or when the waiting task is cancelled.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    init() {}

    var isOpen: Bool { state.withLock { $0.isOpen } }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns whether the gate opened (`false`: the task was cancelled first).
    @discardableResult
    func wait() async -> Bool {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        return isOpen
    }
}

extension Gate {
    /// Suspends until the gate opens, even if the task is cancelled meanwhile:
    /// a handler that ignores cancellation, without spinning a cooperative thread.
    func waitIgnoringCancellation() async {
        _ = await Task { await self.wait() }.value
    }
}

/// Suspends until the current task is cancelled.
func waitUntilCancelled() async {
    await Gate().wait()
}

// MARK: Queues and workers

/// A fresh store of the fixture's backend, a manual clock and a queue over both.
struct Harness {
    let store: any MLStore
    let clock: MLManualClock
    let queue: MLJobQueue

    init(_ fixture: MLStoreFixture) async throws {
        try await self.init(store: fixture.makeStore())
    }

    init(store: any MLStore, clock: MLManualClock = MLManualClock(nowMs: startMs)) {
        self.store = store
        self.clock = clock
        queue = makeQueue(store, clock: clock)
    }

    /// Another queue object over the same store (another process, as far as the queue can tell).
    func reopened(clock: (any MLClock)? = nil) -> MLJobQueue {
        makeQueue(store, clock: clock ?? self.clock)
    }

    /// Starts workers over this harness's queue.
    func start(
        _ configuration: MLJobWorkers.Configuration = workerConfiguration(),
        _ register: (MLJobWorkers) -> Void
    ) -> RunningWorkers {
        RunningWorkers.start(queue: queue, configuration: configuration, clock: clock, register)
    }

    /// Every entry of a namespace; on a store with a job table, what the
    /// key-value layout would hold there (see ``tableEntries(_:_:prefix:)``),
    /// so that one test checks both layouts.
    func entries(_ namespace: String, prefix: String? = nil) async throws -> [MLEntry] {
        if let table = store as? any MLJobTableStore { return try await Self.tableEntries(table, namespace, prefix: prefix) }
        var result: [MLEntry] = []
        var request = MLPageRequest(prefix: prefix, limit: 500)
        while true {
            let page = try await store.page(namespace: namespace, request)
            result += page.entries
            guard let cursor = page.nextCursor else { return result }
            request.after = cursor
        }
    }
}

extension Harness {
    /// The revision of job `id`'s record, whatever the layout.
    func revision(of id: UInt128) async throws -> MLRevision? {
        try await entries(MLNamespace.jobs, prefix: MLKey.job(id)).first { $0.key == MLKey.job(id) }?.revision
    }

    /// The job namespaces rebuilt from a job table: records and events under
    /// their keys; finished, running and unique-key entries from the records;
    /// ready and scheduled entries only as many as the table counts (their
    /// keys are placeholders: tests only count them).
    static func tableEntries(_ table: any MLJobTableStore, _ namespace: String, prefix: String?) async throws -> [MLEntry] {
        var records: [MLJobRecord] = []
        try await table.forEachJobPage(MLJobTableQuery(limit: 1_000)) { records += $0 }
        let jobs = records.compactMap { try? MLJSON.decode(MLJob.self, from: $0.record, namespace: MLNamespace.jobs, key: $0.key) }
        func placeholders(_ count: Int) -> [MLEntry] {
            (0..<count).map { MLEntry(key: "counted-\($0)", value: "", revision: MLRevision(rawValue: 0)) }
        }
        let entries: [MLEntry]
        switch namespace {
        case MLNamespace.jobs:
            entries = records.map { MLEntry(key: $0.key, value: $0.record, revision: $0.revision) }
        case MLNamespace.jobHistory:
            var events: [MLEntry] = []
            for record in records {
                for (index, event) in try await table.jobEvents(key: record.key).enumerated() {
                    let sequence = String(index + 1)
                    let key = record.key + "/" + String(repeating: "0", count: 8 - sequence.count) + sequence
                    events.append(MLEntry(key: key, value: event, revision: record.revision))
                }
            }
            entries = events
        case MLNamespace.jobFinished:
            entries = jobs.filter(\.status.isTerminal).map { MLEntry(key: "\($0.finishedAtMs ?? 0)/\($0.key)", value: $0.status.rawValue, revision: MLRevision(rawValue: 0)) }
        case MLNamespace.jobLeases:
            entries = jobs.filter { $0.status == .running }.map { MLEntry(key: "\($0.leaseExpiresAtMs ?? 0)/\($0.key)", value: $0.worker ?? "", revision: MLRevision(rawValue: 0)) }
        case MLNamespace.jobUnique:
            entries = jobs.filter { !$0.status.isTerminal && $0.uniqueKey != nil }.map { MLEntry(key: $0.uniqueKey!, value: $0.key, revision: MLRevision(rawValue: 0)) }
        case MLNamespace.jobReady:
            entries = placeholders(try await table.liveJobCounts().readyByQueue.values.reduce(0, +))
        case MLNamespace.jobScheduled:
            entries = placeholders(try await table.liveJobCounts().waiting)
        default:
            entries = []
        }
        guard let prefix else { return entries }
        return entries.filter { $0.key.hasPrefix(prefix) }
    }
}

func makeQueue(_ store: any MLStore, clock: any MLClock) -> MLJobQueue {
    var configuration = MLJobQueue.Configuration()
    configuration.clock = clock
    configuration.watchInterval = .milliseconds(5)
    if ProcessInfo.processInfo.environment["QUEUE_TEST_LOG"] != nil {
        configuration.logger = Logger(label: "test", factory: { StreamLogHandler.standardError(label: $0) })
    }
    return MLJobQueue(store: store, configuration: configuration)
}

/// Worker settings for tests: one default slot, 10 s heartbeats (15 s leases,
/// so that no test that moves the clock a few seconds loses a lease by
/// accident), 200 ms progress flushes, 1 s grace, backoff 1 s doubling
/// without jitter.
func workerConfiguration(
    id: String = "worker-1", count: Int = 1, queues: [String: Int] = [:], gracePeriod: Duration = .seconds(1),
    heartbeat: Duration = .seconds(10)
) -> MLJobWorkers.Configuration {
    var configuration = MLJobWorkers.Configuration()
    configuration.workerID = id
    configuration.workerCount = count
    configuration.queues = queues
    configuration.pollInterval = .milliseconds(250)
    configuration.heartbeatInterval = heartbeat
    configuration.progressFlushInterval = .milliseconds(200)
    configuration.gracePeriod = gracePeriod
    configuration.backoff = MLRetryBackoff(base: .seconds(1), maximum: .seconds(60), jitter: 0)
    return configuration
}

/// A worker pool whose `run()` runs in a task of its own.
final class RunningWorkers: Sendable {
    let workers: MLJobWorkers
    let task: Task<Void, any Error>
    let clock: MLManualClock?
    private let finished: Locked<Bool>

    private init(workers: MLJobWorkers, task: Task<Void, any Error>, clock: MLManualClock?, finished: Locked<Bool>) {
        self.workers = workers
        self.task = task
        self.clock = clock
        self.finished = finished
    }

    static func start(
        queue: MLJobQueue, configuration: MLJobWorkers.Configuration, clock: MLManualClock?,
        _ register: (MLJobWorkers) -> Void
    ) -> RunningWorkers {
        let workers = MLJobWorkers(queue: queue, configuration: configuration)
        register(workers)
        let finished = Locked(false)
        let task = Task {
            defer { finished.withLock { $0 = true } }
            try await workers.run()
        }
        return RunningWorkers(workers: workers, task: task, clock: clock, finished: finished)
    }

    var hasFinished: Bool { finished.value }

    /// Graceful shutdown; `run()` must return within the timeout (no handler may still be blocked).
    ///
    /// A claim loop can miss the shutdown wake-up when another loop consumed
    /// it (see the report on `Signal`); it then waits one poll interval, which
    /// on a manual clock never ends. So after 300 ms of real time without a
    /// return, this moves the manual clock by a poll interval now and then.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        workers.beginShutdown()
        let began = ContinuousClock.now
        var nudges = 0
        do {
            try await eventually("the workers to shut down", sourceLocation: sourceLocation) {
                if hasFinished { return true }
                if let clock, ContinuousClock.now - began > .milliseconds(300 * (nudges + 1)) {
                    nudges += 1
                    clock.advance(by: .milliseconds(250))
                }
                return false
            }
        } catch {
            task.cancel()
            throw error
        }
        try await task.value
    }
}

// MARK: Errors

/// Runs `body`, which must throw an ``MLJobError`` with `code`; returns it.
@discardableResult
func expectJobError<R>(
    _ code: MLJobError.Code, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> R
) async -> MLJobError? {
    do {
        let result = try await body()
        Issue.record("\(what): expected error \(code), but the call returned \(result)", sourceLocation: sourceLocation)
        return nil
    } catch let error as MLJobError {
        #expect(error.code == code, "\(what): \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("\(what): expected MLJobError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

// MARK: Stores that count

/// A store that forwards every call to `base`; adopters replace the calls they watch.
protocol ForwardingStore: MLStore {
    var base: any MLStore { get }
}

extension ForwardingStore {
    func put(namespace: String, key: String, value: String) async throws {
        try await base.put(namespace: namespace, key: key, value: value)
    }
    func get(namespace: String, key: String) async throws -> String? { try await base.get(namespace: namespace, key: key) }
    func delete(namespace: String, key: String) async throws { try await base.delete(namespace: namespace, key: key) }
    func list(namespace: String) async throws -> [(key: String, value: String)] { try await base.list(namespace: namespace) }
    func entry(namespace: String, key: String) async throws -> MLEntry? { try await base.entry(namespace: namespace, key: key) }
    func commit(_ batch: MLBatch) async throws -> MLRevision { try await base.commit(batch) }
    func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage {
        try await base.page(namespace: namespace, request)
    }
    var blobChunkSize: Int { base.blobChunkSize }
    func beginBlobUpload() async throws -> MLBlobUploadID { try await base.beginBlobUpload() }
    func appendBlobChunk(_ chunk: Data, index: Int, to upload: MLBlobUploadID) async throws {
        try await base.appendBlobChunk(chunk, index: index, to: upload)
    }
    func finishBlobUpload(_ upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int) async throws
        -> MLStagedBlob
    {
        try await base.finishBlobUpload(upload, sha256: sha256, size: size, chunkCount: chunkCount)
    }
    func stageBlob(chunk: Data, sha256: String) async throws -> MLStagedBlob {
        try await base.stageBlob(chunk: chunk, sha256: sha256)
    }
    func abortBlobUpload(_ upload: MLBlobUploadID) async throws { try await base.abortBlobUpload(upload) }
    func removeAbandonedBlobUploads(startedBefore date: Date) async throws -> Int {
        try await base.removeAbandonedBlobUploads(startedBefore: date)
    }
    func blobInfo(sha256: String) async throws -> MLBlobInfo? { try await base.blobInfo(sha256: sha256) }
    func readBlobChunk(sha256: String, index: Int) async throws -> Data {
        try await base.readBlobChunk(sha256: sha256, index: index)
    }
    func blobs(after: String?, limit: Int) async throws -> [MLBlobInfo] { try await base.blobs(after: after, limit: limit) }
}

/// Forwards to another store and counts the committed writes of each job record.
final class CountingStore: ForwardingStore {
    let base: any MLStore
    private let jobWrites = Locked<[String: Int]>([:])
    private let held = Locked<CommitHold?>(nil)

    /// Gates around one held commit: `arrived` opens when it reaches the
    /// store, the commit waits for `release`, and `returned` opens once the
    /// underlying commit returned or threw.
    struct CommitHold: Sendable {
        let arrived = Gate()
        let release = Gate()
        let returned = Gate()
    }

    /// Holds the next commit that writes a job record without a history
    /// event (a lease renewal, progress flush or checkpoint).
    func holdNextSilentJobWrite() -> CommitHold {
        let hold = CommitHold()
        held.withLock { $0 = hold }
        return hold
    }

    /// Holds every commit that records a transition for `reason` (a
    /// completion, unless another is named) until `release` opens, or fails
    /// it if its task is cancelled first; `arrivals` counts those that reached the store.
    struct CompletionHold: Sendable {
        var reason = "completed"
        let release = Gate()
        let arrivals = Locked(0)
    }

    private let completions = Locked<CompletionHold?>(nil)

    /// Holds the commits that record transitions for `reason` from now on (see ``CompletionHold``).
    func holdCompletions(reason: String = "completed") -> CompletionHold {
        let hold = CompletionHold(reason: reason)
        completions.withLock { $0 = hold }
        return hold
    }

    init(_ base: any MLStore) { self.base = base }

    /// How many committed batches wrote the record of job `id`.
    func writes(of id: UInt128) -> Int { jobWrites.value[MLKey.job(id)] ?? 0 }

    private let readyPages = Locked(0)

    /// How many pages of ready jobs were read: every claim reads one at least.
    var readyPageCount: Int { readyPages.value }

    @discardableResult
    func commit(_ batch: MLBatch) async throws -> MLRevision {
        var writesJob = false
        var writesHistory = false
        var reasons: [Substring] = []
        for operation in batch.operations {
            if case .put(let namespace, _, let value, _) = operation {
                if namespace == MLNamespace.jobs { writesJob = true }
                if namespace == MLNamespace.jobHistory {
                    writesHistory = true
                    if let range = value.range(of: #""reason":""#) {
                        reasons.append(value[range.upperBound...].prefix { $0 != "\"" })
                    }
                }
            }
        }
        if let hold = completions.withLock({ $0 }), reasons.contains(where: { $0 == hold.reason }) {
            hold.arrivals.withLock { $0 += 1 }
            // A write given up (its task cancelled) never reaches the store, as with a server that is down.
            guard await hold.release.wait() else { throw CancellationError() }
        }
        if writesJob && !writesHistory, let hold = held.withLock({ state -> CommitHold? in
            defer { state = nil }
            return state
        }) {
            hold.arrived.open()
            await hold.release.wait()
            defer { hold.returned.open() }
            return try await countedCommit(batch)
        }
        return try await countedCommit(batch)
    }

    private func countedCommit(_ batch: MLBatch) async throws -> MLRevision {
        let revision = try await base.commit(batch)
        var keys: [String] = []
        for operation in batch.operations {
            if case .put(let namespace, let key, _, _) = operation, namespace == MLNamespace.jobs { keys.append(key) }
        }
        if !keys.isEmpty {
            let written = keys
            jobWrites.withLock { counts in for key in written { counts[key, default: 0] += 1 } }
        }
        return revision
    }

    func page(namespace: String, _ request: MLPageRequest) async throws -> MLPage {
        if namespace == MLNamespace.jobReady { readyPages.withLock { $0 += 1 } }
        return try await base.page(namespace: namespace, request)
    }
}

/// Rescues expired leases through `queue` until `count` were rescued in one
/// call. Another worker pool's maintenance pass may hold the rescuer role at
/// that instant (on PostgreSQL the role is cluster-wide), and then a call
/// rescues nothing.
func rescue(
    _ queue: MLJobQueue, expecting count: Int, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    var last = 0
    try await eventually("\(count) rescued leases (last call: \(last))", timeout: .seconds(15), sourceLocation: sourceLocation) {
        last = try await queue.rescueExpiredLeases()
        return last == count
    }
}
