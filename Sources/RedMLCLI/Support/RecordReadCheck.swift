import RedML

/// Reads every model, version, weights reference count and job record, and every history event, the
/// way the registry and queue read them, and reports each one they would skip. The store's own check
/// finds values that are not JSON; this finds JSON of the wrong shape (a
/// missing field, a wrong type), which only a reader that knows the records
/// can tell. It also checks the job indexes against the records (see
/// ``MLJobIndexCheck``), and each model's `latest_version` against its
/// version records.
enum RecordReadCheck {
    /// The records and history events that cannot be read, as integrity problems (`unreadable_record`),
    /// leaving out those already among `known` (a value that is not JSON at all),
    /// then models whose `latest_version` is below a stored version (`model_counter_behind`),
    /// running jobs without a lease entry (`running_job_without_lease`) and
    /// ready entries without a job record (`ready_entry_without_job`).
    ///
    /// Returns them with how many records and events it read.
    static func problems(
        in store: any MLStore, besides known: [MLIntegrityReport.Problem]
    ) async throws -> (problems: [MLIntegrityReport.Problem], read: Int) {
        let registry = MLModelRegistry(store: store)
        let (models, skippedModels) = try await ReadAll.models(registry)
        var skipped = skippedModels
        var read = models.count + skippedModels.count
        var counters: [MLIntegrityReport.Problem] = []
        for model in models {
            let versions = try await ReadAll.versions(of: model.name, registry)
            skipped += versions.skipped
            read += versions.versions.count + versions.skipped.count
            // Every key, not the listing's one lookup above the counter: a record may be missing in between.
            if let highest = try await registry.highestStoredVersion(of: model.name), highest > model.latestVersion {
                counters.append(MLIntegrityReport.Problem(
                    code: "model_counter_behind",
                    message: "\(MLNamespace.models)/\(MLKey.model(model.name)): latest_version is \(model.latestVersion), "
                        + "but \(MLNamespace.modelVersions)/\(MLKey.modelVersion(model.name, highest)) exists; "
                        + "a new version of model '\(model.name)' can be given a number that is taken, and fail, "
                        + "until latest_version is at least \(highest)"))
            }
        }
        // Weights reference counts, and the versions of models whose record cannot be read.
        let beyond = try await registry.unreadableRecordsBeyondModels(readableModels: Set(models.map(\.name)))
        skipped += beyond.skipped
        read += beyond.read
        // Jobs page by page, keeping only what was skipped: a store may hold millions. The same
        // walk checks the job indexes, which only the ready index adds a walk to.
        let queue = MLJobQueue(store: store)
        var indexes = MLJobIndexCheck(queue: queue)
        var jobQuery = MLJobQuery(limit: 1_000, oldestFirst: true)
        // A job table keeps each job's history beside it, not in `job_history`: read job by job.
        let historiesInTable = store is any MLJobTableStore
        while true {
            let page = try await queue.jobs(jobQuery)
            skipped += page.skipped
            read += page.jobs.count + page.skipped.count
            try await indexes.check(page.jobs)
            if historiesInTable {
                for job in page.jobs {
                    let history = try await queue.historyReport(of: job.id)
                    skipped += history.skipped
                    read += history.events.count + history.skipped.count
                }
            }
            guard let cursor = page.nextCursor else { break }
            jobQuery.after = cursor
        }
        try await indexes.finish()
        let histories = try await HistoryReadCheck.unreadable(in: store)
        skipped += histories.unreadable
        read += histories.read
        // A value that is not JSON is reported already, as corrupt_value `namespace/key: value is not
        // valid JSON`; a reader's error is `.corruption("namespace/key: reason")`. Matched on the whole
        // `namespace/key: ` (iris@v1 must not hide iris@v10).
        let suffix = ": value is not valid JSON"
        let knownPrefixes = known.filter { $0.code == "corrupt_value" && $0.message.hasSuffix(suffix) }
            .map { String($0.message.dropLast(suffix.count)) + ": " }
        let unreadable = skipped.filter { error in
            guard case .corruption(let message) = error else { return true }
            return !knownPrefixes.contains { message.hasPrefix($0) }
        }
        .map { MLIntegrityReport.Problem(code: "unreadable_record", message: $0.description) }
        return (unreadable + counters + indexes.problems.map { MLIntegrityReport.Problem(code: $0.code, message: $0.message) },
                read)
    }
}
