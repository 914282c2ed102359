import RedML

/// Whole listings, read a page at a time, with every record the pages
/// skipped because it could not be read.
enum ReadAll {
    /// Every model, in name order.
    static func models(_ registry: MLModelRegistry) async throws -> (models: [MLModel], skipped: [MLPersistenceError]) {
        var models: [MLModel] = []
        var skipped: [MLPersistenceError] = []
        var query = MLModelQuery(limit: 1_000)
        while true {
            let page = try await registry.models(query)
            models += page.models
            skipped += page.skipped
            guard let cursor = page.nextCursor else { return (models, skipped) }
            query.after = cursor
        }
    }

    /// Every version of model `name`, oldest first.
    static func versions(
        of name: String, _ registry: MLModelRegistry
    ) async throws -> (versions: [MLModelVersion], skipped: [MLPersistenceError]) {
        var versions: [MLModelVersion] = []
        var skipped: [MLPersistenceError] = []
        var query = MLVersionQuery(limit: 1_000)
        while true {
            let page = try await registry.versions(of: name, query)
            versions += page.versions
            skipped += page.skipped
            guard let cursor = page.nextCursor else { return (versions, skipped) }
            query.after = cursor
        }
    }

    /// The jobs `query` selects, at most `limit` of them (counting the jobs set
    /// aside that a `set_aside` query lists instead).
    static func jobs(
        _ queue: MLJobQueue, _ query: MLJobQuery, limit: Int = .max
    ) async throws -> (jobs: [MLJob], skipped: [MLPersistenceError], setAside: [MLSetAsideJob]) {
        var jobs: [MLJob] = []
        var skipped: [MLPersistenceError] = []
        var setAside: [MLSetAsideJob] = []
        var query = query
        while jobs.count + setAside.count < limit {
            query.limit = min(1_000, limit - jobs.count - setAside.count)
            let page = try await queue.jobs(query)
            jobs += page.jobs
            skipped += page.skipped
            setAside += page.setAside
            guard let cursor = page.nextCursor else { break }
            query.after = cursor
        }
        return (jobs, skipped, setAside)
    }
}
