// The floor with the rest of #4's per-job bookkeeping: what a queue that
// meets the issue must do for each no-op job on the in-memory backend, each
// in the cheapest form I know, so that its rate bounds any such queue here.
//
// On top of `FloorQueue`:
// - the record holds every field #4 names (queue, attempts and failures for
//   retries, run-at for delays, lease expiry and worker for leases, unique
//   key, timeout, cancel flag, updated-at), and the id is 128 bits, unique
//   across processes without coordination (time, a per-process random part,
//   a counter), written as `MLKey.job` writes it: 32 hex digits;
// - every state change goes through a store protocol (`CompleteStore`), as
//   #4 asks ("persists every state change through the persistence layer"),
//   though a typed one: hash maps keyed by the 128-bit id, no string keys;
// - writes after the claim are fenced: the attempt number must still match;
// - a job's handler gets a handle (progress and a cancel flag) and runs in a
//   task of its own, registered by id so `cancel` can stop it alone; the
//   same registry is what a lease keeper renews;
// - a transition looks up the job's watchers.
// Left out, in the floor's favour: metrics, logging, progress flushing, the
// keeper's own passes (it would not pass within a run this short), retries'
// backoff and every failure path.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A job record with every field #4 names.
struct FullJob: Sendable {
    var id: UInt128
    var kind: String
    var target: String
    var queue: String
    var status: String
    var priority: Int
    var progress: Double
    var attempt: Int
    var maxAttempts: Int
    var failures: Int
    var cancelRequested: Bool
    var createdAtMs: Int64
    var updatedAtMs: Int64
    var runAtMs: Int64
    var startedAtMs: Int64?
    var finishedAtMs: Int64?
    var leaseExpiresAtMs: Int64?
    var worker: String?
    var error: String?
    var spec: String
    var metrics: String?
    var uniqueKey: String?
    var timeoutMs: Int64?
    var eventCount: Int

    var key: String { hexKey(id) }

    /// The whole record as JSON, every field, as RedML stores it.
    var json: String {
        var out = JSONBytes()
        out.open()
        out.field("attempt", attempt)
        out.field("cancel_requested", cancelRequested)
        out.field("created_at_ms", createdAtMs)
        out.field("error", error)
        out.field("event_count", eventCount)
        out.field("failures", failures)
        out.field("finished_at_ms", finishedAtMs)
        out.field("id", key)
        out.field("kind", kind)
        out.field("lease_expires_at_ms", leaseExpiresAtMs)
        out.field("max_attempts", maxAttempts)
        if let metrics { out.raw("metrics", metrics) }
        out.field("priority", priority)
        out.raw("progress", progress == 100 ? "100" : progress == 0 ? "0" : "\(progress)")
        out.field("queue", queue)
        out.field("run_at_ms", runAtMs)
        out.raw("spec", spec)
        out.field("started_at_ms", startedAtMs)
        out.field("status", status)
        out.field("target", target)
        out.field("timeout_ms", timeoutMs)
        out.field("unique_key", uniqueKey)
        out.field("updated_at_ms", updatedAtMs)
        out.field("worker", worker)
        return out.close()
    }
}

/// A history event as RedML stores one.
func fullEvent(_ job: FullJob, from: String?, reason: String, at: Int64) -> String {
    var out = JSONBytes()
    out.open()
    out.field("at_ms", at)
    out.field("attempt", job.attempt)
    out.field("detail", nil as String?)
    out.field("from", from)
    out.field("reason", reason)
    out.field("sequence", job.eventCount)
    out.field("to", job.status)
    out.field("worker", job.worker)
    return out.close()
}

/// A JSON object written into bytes (plain ASCII names and values, no escaping needed here).
struct JSONBytes {
    var bytes: [UInt8] = []
    var first = true

    mutating func open() {
        bytes.reserveCapacity(512)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func name(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    mutating func field(_ key: StaticString, _ value: String?) {
        name(key)
        guard let value else { return bytes.append(contentsOf: [110, 117, 108, 108]) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: value.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func field(_ key: StaticString, _ value: Int64?) {
        name(key)
        guard let value else { return bytes.append(contentsOf: [110, 117, 108, 108]) }
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func field(_ key: StaticString, _ value: Int) { field(key, Int64(value)) }

    mutating func field(_ key: StaticString, _ value: Bool) {
        name(key)
        bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
    }

    mutating func raw(_ key: StaticString, _ json: String) {
        name(key)
        bytes.append(contentsOf: json.utf8)
    }

    mutating func close() -> String {
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// 32 lowercase hex digits, as `MLKey.job` writes an id.
func hexKey(_ id: UInt128) -> String {
    String(unsafeUninitializedCapacity: 32) { buffer in
        for index in 0..<32 {
            let nibble = Int(truncatingIfNeeded: id >> (124 - 4 * index)) & 0xF
            buffer[index] = nibble < 10 ? UInt8(ascii: "0") + UInt8(nibble) : UInt8(ascii: "a") + UInt8(nibble - 10)
        }
        return 32
    }
}

/// Ids unique across processes without coordination: 48 bits of time, 40
/// random bits drawn once per process, a 40-bit counter.
let processPart = UInt128(UInt64.random(in: 0..<(1 << 40)))
let counter = Atomic<UInt64>(0)
func newFullID() -> UInt128 {
    let count = UInt128(counter.add(1, ordering: .relaxed).newValue & ((1 << 40) - 1))
    return UInt128(UInt64(nowMs())) << 80 | processPart << 40 | count
}

/// A write whose attempt is no longer the job's: its worker lost the lease.
struct Fenced: Error {}

/// The persistence layer's job surface, as a protocol: every state change goes through it.
protocol CompleteStore: Sendable {
    func insert(_ job: FullJob, event: String)
    /// Claims up to `limit` ready jobs of `queue` for `worker`; `nil` when none is ready.
    func claim(queue: String, limit: Int, worker: String, leaseMs: Int64) -> [FullJob]?
    /// Writes `job` if its stored attempt is still `job.attempt` and it is still running;
    /// returns whether every job the round expects has finished (the bench's stop).
    func finish(_ job: FullJob, event: String) throws -> Bool
}

/// The in-memory backend: typed maps behind one lock.
final class MemoryCompleteStore: CompleteStore {
    struct State {
        var records: [UInt128: String] = [:]
        var live: [UInt128: FullJob] = [:]
        var events: [UInt128: [String]] = [:]
        var ready: [String: ReadyQueues<UInt128>] = [:]
        var leases: [UInt128: Int64] = [:]
        var finished: [UInt128: Int64] = [:]
        var watchers: [UInt128: Int] = [:]
        var completed = 0
        var expected = 0
    }

    let state = Mutex(State())

    func insert(_ job: FullJob, event: String) {
        let record = job.json
        state.withLock { state in
            state.records[job.id] = record
            state.live[job.id] = job
            state.events[job.id] = [event]
            state.ready[job.queue, default: ReadyQueues()].push((job.priority, job.id))
            _ = state.watchers[job.id]
        }
    }

    func claim(queue: String, limit: Int, worker: String, leaseMs: Int64) -> [FullJob]? {
        state.withLock { state in
            var claimed: [FullJob] = []
            while claimed.count < limit, let id = state.ready[queue]?.pop(), var job = state.live[id] {
                guard job.status == "queued" else { continue }
                let now = nowMs()
                job.status = "running"
                job.attempt += 1
                job.worker = worker
                job.startedAtMs = now
                job.updatedAtMs = now
                job.leaseExpiresAtMs = now + leaseMs
                job.eventCount += 1
                state.records[id] = job.json
                state.live[id] = job
                state.leases[id] = now + leaseMs
                state.events[id, default: []].append(fullEvent(job, from: "queued", reason: "claimed", at: now))
                _ = state.watchers[id]
                claimed.append(job)
            }
            return claimed.isEmpty ? nil : claimed
        }
    }

    func finish(_ job: FullJob, event: String) throws -> Bool {
        let record = job.json
        return try state.withLock { state in
            guard let stored = state.live[job.id], stored.attempt == job.attempt, stored.status == "running" else {
                throw Fenced()
            }
            state.records[job.id] = record
            state.live[job.id] = nil
            state.leases[job.id] = nil
            state.finished[job.id] = job.finishedAtMs!
            state.events[job.id, default: []].append(event)
            _ = state.watchers[job.id]
            state.completed += 1
            return state.completed == state.expected
        }
    }
}

/// What a handler gets: progress and the cancel flag.
final class FullHandle: Sendable {
    let job: FullJob
    let state = Mutex((progress: 0.0, cancelled: false))
    init(job: FullJob) { self.job = job }
    var isCancelled: Bool { state.withLock { $0.cancelled } }
}

/// The queue over any `CompleteStore`: submission, claim loops with wake-ups,
/// and the registry of running handlers that cancel and the lease keeper use.
final class CompleteQueue: Sendable {
    let store: any CompleteStore
    let running = Mutex([UInt128: (handle: FullHandle, task: Task<String?, Never>)]())
    let idle = Mutex((waiters: [CheckedContinuation<Void, Never>](), stopping: false))

    init(store: any CompleteStore) { self.store = store }

    func submit(kind: String, spec: String) {
        let now = nowMs()
        let job = FullJob(
            id: newFullID(), kind: kind, target: "model", queue: "default", status: "queued", priority: 0, progress: 0,
            attempt: 0, maxAttempts: 3, failures: 0, cancelRequested: false, createdAtMs: now, updatedAtMs: now,
            runAtMs: now, startedAtMs: nil, finishedAtMs: nil, leaseExpiresAtMs: nil, worker: nil, error: nil,
            spec: spec, metrics: nil, uniqueKey: nil, timeoutMs: nil, eventCount: 1)
        store.insert(job, event: fullEvent(job, from: nil, reason: "submitted", at: now))
        let waiter = idle.withLock { $0.waiters.popLast() }
        waiter?.resume()
    }

    func claim(limit: Int, worker: String) async -> [FullJob] {
        while true {
            if idle.withLock({ $0.stopping }) { return [] }
            if let jobs = store.claim(queue: "default", limit: limit, worker: worker, leaseMs: 4_000) { return jobs }
            await withCheckedContinuation { continuation in
                let now = idle.withLock { idle -> Bool in
                    if idle.stopping { return true }
                    idle.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Runs `job`'s handler in a task of its own, registered for cancel and the keeper; writes the outcome, fenced.
    func run(_ job: FullJob, handler: @escaping @Sendable (FullHandle) async throws -> String) async {
        let handle = FullHandle(job: job)
        let task = Task { try? await handler(handle) }
        running.withLock { $0[job.id] = (handle, task) }
        let metrics = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        running.withLock { $0[job.id] = nil }
        var done = job
        let now = nowMs()
        done.status = "completed"
        done.progress = 100
        done.metrics = metrics ?? "{}"
        done.finishedAtMs = now
        done.updatedAtMs = now
        done.leaseExpiresAtMs = nil
        done.eventCount += 1
        let allDone: Bool
        do {
            allDone = try store.finish(done, event: fullEvent(done, from: "running", reason: "completed", at: now))
        } catch {
            return  // fenced: another worker holds the job now
        }
        if allDone {
            let waiters = idle.withLock { idle in
                idle.stopping = true
                defer { idle.waiters = [] }
                return idle.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Stops one running job's handler, as `cancel(id)` does.
    func cancel(_ id: UInt128) -> Bool {
        guard let entry = running.withLock({ $0[id] }) else { return false }
        entry.handle.state.withLock { $0.cancelled = true }
        entry.task.cancel()
        return true
    }
}

let fullHandler: @Sendable (FullHandle) async throws -> String = { _ in "{}" }

/// A round of the complete floor, measured as `round` measures the floor.
func completeRound(count: Int, workers: Int, batch: Int) async -> (Double, Double) {
    let store = MemoryCompleteStore()
    store.state.withLock { $0.expected = count }
    let queue = CompleteQueue(store: store)
    let start = ContinuousClock.now
    for _ in 0..<count { queue.submit(kind: "noop", spec: "{}") }
    let submitted = ContinuousClock.now
    await withDiscardingTaskGroup { group in
        for worker in 0..<workers {
            group.addTask {
                let name = "floor-\(worker)"
                while case let jobs = await queue.claim(limit: batch, worker: name), !jobs.isEmpty {
                    await withDiscardingTaskGroup { handlers in
                        for job in jobs {
                            handlers.addTask { await queue.run(job, handler: fullHandler) }
                        }
                    }
                }
            }
        }
    }
    return (seconds(submitted - start), seconds(ContinuousClock.now - submitted))
}
