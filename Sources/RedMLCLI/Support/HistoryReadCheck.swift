import RedML

/// Reads every event of the registry's and the queue's histories as
/// `redml models history` and `redml jobs history` read them, and names each
/// event they would skip: those commands point at `redml store check` when
/// they skip one, so the check must find it. (A job table keeps its jobs'
/// histories beside them, not in `job_history`: ``RecordReadCheck`` reads those job by job.)
enum HistoryReadCheck {
    /// The events of `model_history` and `job_history` that cannot be read,
    /// as the corruption errors their readers skip them with (namespace, key,
    /// what is wrong), and how many events there were.
    static func unreadable(in store: any MLStore) async throws -> (unreadable: [MLPersistenceError], read: Int) {
        let models = try await unreadable(MLRegistryEvent.self, in: MLNamespace.modelHistory, of: store)
        let jobs = try await unreadable(MLJobEvent.self, in: MLNamespace.jobHistory, of: store)
        return (models.unreadable + jobs.unreadable, models.read + jobs.read)
    }

    /// Walks `namespace` a page at a time, keeping only what fails to decode:
    /// a store may hold millions of events.
    private static func unreadable<Event: Decodable>(
        _ type: Event.Type, in namespace: String, of store: any MLStore
    ) async throws -> (unreadable: [MLPersistenceError], read: Int) {
        var request = MLPageRequest(limit: 1_000)
        var corrupt: [MLPersistenceError] = []
        var read = 0
        while true {
            let page = try await store.page(namespace: namespace, request)
            corrupt += MLJSON.decodeAll(type, entries: page.entries.map { ($0.key, $0.value) }, namespace: namespace)
                .corrupt
            read += page.entries.count
            guard let cursor = page.nextCursor else { return (corrupt, read) }
            request.after = cursor
        }
    }
}
