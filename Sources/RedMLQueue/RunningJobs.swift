import Synchronization

/// The jobs this process is running, so that a cancel made here reaches
/// their handlers at once rather than at the next heartbeat.
final class RunningJobs: Sendable {
    private let runs = Mutex<[UInt128: JobRun]>([:])

    func add(_ run: JobRun) { runs.withLock { $0[run.id] = run } }

    func remove(_ id: UInt128) { _ = runs.withLock { $0.removeValue(forKey: id) } }

    func requestCancel(_ id: UInt128) {
        runs.withLock { $0[id] }?.noteCancelRequested()
    }

    var count: Int { runs.withLock { $0.count } }
}
