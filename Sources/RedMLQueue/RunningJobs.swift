import Synchronization

/// The jobs this process is running, so that a cancel made here reaches
/// their handlers at once rather than at the next heartbeat.
final class RunningJobs: Sendable {
    private let runs = Mutex<[UInt128: JobRun]>([:])

    /// Adds `run`; a run of the same job that this process still holds was
    /// superseded by this later claim, so its lease is lost.
    func add(_ run: JobRun) {
        let earlier = runs.withLock { $0.updateValue(run, forKey: run.id) }
        if let earlier, earlier !== run { earlier.supersede() }
    }

    /// Forgets `run`, unless a later claim of the same job in this process replaced it.
    func remove(_ run: JobRun) {
        runs.withLock { runs in
            if runs[run.id] === run { runs[run.id] = nil }
        }
    }

    func requestCancel(_ id: UInt128) {
        runs.withLock { $0[id] }?.noteCancelRequested()
    }

    var count: Int { runs.withLock { $0.count } }

    /// The runs whose leases name `worker` (one pool's).
    func runs(heldBy worker: String) -> [JobRun] {
        runs.withLock { $0.values.filter { $0.worker == worker } }
    }
}
