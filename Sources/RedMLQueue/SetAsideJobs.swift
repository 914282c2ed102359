import RedMLCore
import RedMLPersistence

extension MLJob.Status {
    /// Not a status a job record holds, but the listing filter for jobs the
    /// queue cannot run: ``MLJobQuery/status`` set to it lists them in
    /// ``MLJobPage/setAside`` (each named, with what is wrong) instead of jobs.
    ///
    /// On a job table (PostgreSQL) these are the jobs a claim or rescue set
    /// aside (their record could not be read, or their history is ahead of
    /// it), which no claim, promotion or rescue picks again. The key-value
    /// layout has no such state: there, they are the job records that cannot
    /// be read, which other listings pass over and name under ``MLJobPage/skipped``.
    public static let setAside = MLJob.Status(rawValue: "set_aside")

    /// Every status ``MLJobQuery/status`` filters by: those a job can have, then ``setAside``.
    public static let listingFilters: [MLJob.Status] = [.queued, .running, .completed, .failed, .cancelled, .setAside]
}

/// A job the queue cannot run, as a ``MLJob/Status/setAside`` listing names it.
public struct MLSetAsideJob: Equatable, Sendable {
    /// The job's id, or `nil` when its key is not a job id (a hand-made key).
    public var id: UInt128?
    /// Its record, as `namespace/key` (`jobs/<id>`), as ``MLJobPage/skipped`` names records.
    public var record: String
    /// What is wrong with it: the corruption error, whose description is the
    /// string other listings print under `skipped` for the same record.
    public var problem: MLPersistenceError

    /// A set-aside job under `key` (a key of ``MLNamespace/jobs``).
    public init(key: String, problem: MLPersistenceError) {
        id = MLKey.parseJob(key)
        record = MLNamespace.jobs + "/" + key
        self.problem = problem
    }
}

extension MLJobQueue {
    /// A page of the jobs set aside (see ``MLJob/Status/setAside``), in the
    /// query's order; `jobs` and `skipped` stay empty.
    ///
    /// On the key-value layout this reads every job record after the cursor
    /// until the page fills: an operator's query, where damage is rare. The
    /// kind and queue of a record that cannot be read are unknown there, so
    /// those filters apply only on a job table, which keeps them beside the record.
    func setAsidePage(_ query: MLJobQuery) async throws -> MLJobPage {
        if let table {
            let (records, more) = try await table.jobPage(MLJobTableQuery(
                after: query.after.map(MLKey.job), descending: !query.oldestFirst, limit: query.limit,
                status: MLJob.Status.setAside.rawValue, kind: query.kind?.rawValue, queue: query.queue))
            var setAside: [MLSetAsideJob] = []
            for record in records {
                setAside.append(MLSetAsideJob(key: record.key, problem: try await problem(of: record)))
            }
            let last = records.last.flatMap { MLKey.parseJob($0.key) }
            return MLJobPage(jobs: [], nextCursor: more ? last : nil, skipped: [], setAside: setAside)
        }
        let request = MLPageRequest(after: query.after.map(MLKey.job), order: query.oldestFirst ? .ascending : .descending)
        let page = try await store.filteredPage(namespace: MLNamespace.jobs, request, limit: query.limit) { entry -> MLSetAsideJob? in
            do {
                _ = try MLJob.decodeStored(entry.value, key: entry.key)
                return nil  // readable: not set aside
            } catch let error as MLPersistenceError {
                guard case .corruption = error else { throw error }
                return MLSetAsideJob(key: entry.key, problem: error)
            }
        }
        return MLJobPage(jobs: [], nextCursor: page.nextCursor.flatMap(MLKey.parseJob), skipped: [], setAside: page.items)
    }

    /// Why a job table set aside the job in `record`: its record cannot be
    /// read, or its history is ahead of it (the table keeps no reason).
    func problem(of record: MLJobRecord) async throws -> MLPersistenceError {
        let job: MLJob
        do {
            job = try MLJob.decodeStored(record.record, key: record.key)
        } catch let error as MLPersistenceError {
            return error
        }
        if let ahead = try await historyAhead(of: job, revision: record.revision) { return ahead }
        return MLPersistenceError.corruptValue(
            namespace: MLNamespace.jobs, key: record.key,
            reason: "set aside while its record reads as a \(job.status) job with \(job.eventCount) history events; "
                + "compare them with its history")
    }
}
