// A floor for #4's in-memory target: a job queue that does per job what the
// issue asks RedML's in-memory backend to record, and nothing more, so that
// its rate is what this machine allows such a queue at most.
//
// Per job, like RedML's queue: a time-ordered id; three transitions (queued,
// running, completed), each writing the job's whole record as JSON and
// appending a JSON history event; a ready FIFO per priority;
// a lease index while it runs and a finished index after; the handler in a
// task of its own and the outcome written from another. All of it in
// hash maps and arrays behind one lock, with no persistence protocol, no
// fencing checks, no retries, metrics or lease renewals.
//
//   QueueFloor [jobs] [workers] [rounds] [claim batch] [outcome task 0/1] [complete 0/1]
//   defaults: 1000 2 5 1 1 0 (RedML's shape: one job per claim per slot, the
//   outcome written from a task of its own); 32 0 is the cheapest shape.
//   With complete 1, the queue also does the rest of #4's per-job
//   bookkeeping (Complete.swift); the outcome task argument is then unused.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Job: Sendable {
    var id: String
    var kind: String
    var target: String
    var status: String
    var priority: Int
    var progress: Int
    var attempt: Int
    var createdAtMs: Int64
    var startedAtMs: Int64?
    var finishedAtMs: Int64?
    var spec: String
    var metrics: String?

    var json: String {
        var out = "{\"id\":\"\(id)\",\"kind\":\"\(kind)\",\"target\":\"\(target)\",\"status\":\"\(status)\""
        out += ",\"priority\":\(priority),\"progress\":\(progress),\"attempt\":\(attempt),\"created_at_ms\":\(createdAtMs)"
        if let startedAtMs { out += ",\"started_at_ms\":\(startedAtMs)" }
        if let finishedAtMs { out += ",\"finished_at_ms\":\(finishedAtMs)" }
        out += ",\"spec\":\(spec)"
        if let metrics { out += ",\"metrics\":\(metrics)" }
        return out + "}"
    }
}

func nowMs() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

func event(_ id: String, _ sequence: Int, _ reason: String, attempt: Int) -> String {
    "{\"job\":\"\(id)\",\"sequence\":\(sequence),\"at_ms\":\(nowMs()),\"attempt\":\(attempt),\"worker\":\"floor-1\",\"reason\":\"\(reason)\"}"
}

/// Time-ordered ids, unique within the process: milliseconds, then a counter.
let minted = Atomic<UInt64>(0)
func newID() -> String {
    let ms = String(UInt64(nowMs()), radix: 16)
    let count = String(minted.add(1, ordering: .relaxed).newValue, radix: 16)
    return ms + "-" + String(repeating: "0", count: max(0, 16 - count.utf8.count)) + count
}

/// Ready jobs: a FIFO per priority, higher priority first. Ids are minted in
/// time order in this one process, so FIFO order is id order.
struct ReadyQueues<ID> {
    private struct FIFO {
        let priority: Int
        var ids: [ID] = []
        var head = 0
    }

    private var fifos: [FIFO] = []  // highest priority first
    private(set) var count = 0
    var isEmpty: Bool { count == 0 }

    mutating func push(_ item: (priority: Int, id: ID)) {
        let index = fifos.firstIndex { $0.priority <= item.priority } ?? fifos.endIndex
        if index == fifos.endIndex || fifos[index].priority != item.priority {
            fifos.insert(FIFO(priority: item.priority), at: index)
        }
        fifos[index].ids.append(item.id)
        count += 1
    }

    mutating func pop() -> ID? {
        for index in fifos.indices where fifos[index].head < fifos[index].ids.count {
            let id = fifos[index].ids[fifos[index].head]
            fifos[index].head += 1
            if fifos[index].head == fifos[index].ids.count {
                fifos[index].ids.removeAll(keepingCapacity: true)
                fifos[index].head = 0
            }
            count -= 1
            return id
        }
        return nil
    }
}

struct State {
    var records: [String: String] = [:]
    var live: [String: Job] = [:]
    var events: [String: [String]] = [:]
    var ready = ReadyQueues<String>()
    var leases: [String: Int64] = [:]
    var finished: [String: Int64] = [:]
    var idle: [CheckedContinuation<Void, Never>] = []
    var completed = 0
    var expected = 0
    var stopping = false
}

final class FloorQueue: Sendable {
    let state = Mutex(State())

    func submit(kind: String, spec: String) {
        let id = newID()
        let job = Job(id: id, kind: kind, target: "model", status: "queued", priority: 0, progress: 0, attempt: 0,
                      createdAtMs: nowMs(), startedAtMs: nil, finishedAtMs: nil, spec: spec, metrics: nil)
        let record = job.json
        let submitted = event(id, 1, "submitted", attempt: 0)
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.records[id] = record
            state.live[id] = job
            state.events[id] = [submitted]
            state.ready.push((job.priority, id))
            return state.idle.popLast()
        }
        waiter?.resume()
    }

    /// Up to `limit` ready jobs, now running; empty once every expected job completed.
    func claim(limit: Int) async -> [Job] {
        while true {
            let claimed: [Job]? = state.withLock { state in
                if state.stopping { return [] }
                var claimed: [Job] = []
                while claimed.count < limit, let id = state.ready.pop(), var job = state.live[id] {
                    job.status = "running"
                    job.attempt += 1
                    job.startedAtMs = nowMs()
                    state.records[id] = job.json
                    state.live[id] = job
                    state.leases[id] = job.startedAtMs! + 4_000
                    state.events[id, default: []].append(event(id, 2, "claimed", attempt: job.attempt))
                    claimed.append(job)
                }
                return claimed.isEmpty ? nil : claimed
            }
            if let claimed { return claimed }
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if !state.ready.isEmpty || state.stopping { return true }
                    state.idle.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    func complete(_ running: Job, metrics: String) {
        var job = running
        job.status = "completed"
        job.progress = 100
        job.finishedAtMs = nowMs()
        job.metrics = metrics
        let record = job.json
        let completed = event(job.id, 3, "completed", attempt: job.attempt)
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.records[job.id] = record
            state.live[job.id] = nil
            state.leases[job.id] = nil
            state.finished[job.id] = job.finishedAtMs!
            state.events[job.id, default: []].append(completed)
            state.completed += 1
            guard state.completed == state.expected else { return [] }
            state.stopping = true
            defer { state.idle = [] }
            return state.idle
        }
        for waiter in waiters { waiter.resume() }
    }
}

let handler: @Sendable (Job) async throws -> String = { _ in "{}" }

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Submits `count` jobs, then runs them on `workers` claim loops that claim up
/// to `batch` jobs at a time; with `outcomeTask`, each outcome is written from
/// a task of its own. Returns (submit, run) seconds.
func round(count: Int, workers: Int, batch: Int, outcomeTask: Bool) async -> (Double, Double) {
    let queue = FloorQueue()
    queue.state.withLock { $0.expected = count }
    let start = ContinuousClock.now
    for _ in 0..<count { queue.submit(kind: "noop", spec: "{}") }
    let submitted = ContinuousClock.now
    await withDiscardingTaskGroup { group in
        for _ in 0..<workers {
            group.addTask {
                while case let jobs = await queue.claim(limit: batch), !jobs.isEmpty {
                    // Each handler in a task of its own, so that a stop could cancel it alone.
                    await withDiscardingTaskGroup { handlers in
                        for job in jobs {
                            handlers.addTask {
                                let metrics = (try? await handler(job)) ?? "{}"
                                if outcomeTask {
                                    Task { queue.complete(job, metrics: metrics) }
                                } else {
                                    queue.complete(job, metrics: metrics)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (seconds(submitted - start), seconds(ContinuousClock.now - submitted))
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let count = arguments.count > 0 ? arguments[0] : 1_000
let workers = arguments.count > 1 ? arguments[1] : 2
let rounds = arguments.count > 2 ? arguments[2] : 5
let batch = arguments.count > 3 ? arguments[3] : 1
let outcomeTask = arguments.count > 4 ? arguments[4] != 0 : true
let complete = arguments.count > 5 ? arguments[5] != 0 : false
for _ in 0..<rounds where complete {
    let (submit, run) = await completeRound(count: count, workers: workers, batch: batch)
    print("complete jobs=\(count) workers=\(workers) batch=\(batch) submit=\(Int(submit / Double(count) * 1e9)) ns/job "
          + "run=\(Int(run / Double(count) * 1e9)) ns/job e2e=\(Int(Double(count) / (submit + run))) jobs/s")
}
for _ in 0..<rounds where !complete {
    let (submit, run) = await round(count: count, workers: workers, batch: batch, outcomeTask: outcomeTask)
    print("floor jobs=\(count) workers=\(workers) batch=\(batch) outcome_task=\(outcomeTask) submit=\(Int(submit / Double(count) * 1e9)) ns/job "
          + "run=\(Int(run / Double(count) * 1e9)) ns/job e2e=\(Int(Double(count) / (submit + run))) jobs/s")
}
