import RedML

/// Reads every event of the registry's and the queue's histories as
/// `redml models history` and `redml jobs history` read them, and names each
/// event they would skip: those commands point at `redml store check` when
/// they skip one, so the check must find it.
enum HistoryReadCheck {
    /// The events of `model_history` and `job_history` that cannot be read,
    /// as the corruption errors their readers skip them with (namespace, key, what is wrong).
    static func unreadable(in store: any MLStore) async throws -> [MLPersistenceError] {
        try await unreadable(MLRegistryEvent.self, in: MLNamespace.modelHistory, of: store)
            + unreadable(MLJobEvent.self, in: MLNamespace.jobHistory, of: store)
    }

    /// Walks `namespace` a page at a time, keeping only what fails to decode:
    /// a store may hold millions of events.
    private static func unreadable<Event: Decodable>(
        _ type: Event.Type, in namespace: String, of store: any MLStore
    ) async throws -> [MLPersistenceError] {
        var request = MLPageRequest(limit: 1_000)
        var corrupt: [MLPersistenceError] = []
        while true {
            let page = try await store.page(namespace: namespace, request)
            corrupt += MLJSON.decodeAll(type, entries: page.entries.map { ($0.key, $0.value) }, namespace: namespace)
                .corrupt
            guard let cursor = page.nextCursor else { return corrupt }
            request.after = cursor
        }
    }
}
