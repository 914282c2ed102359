import RedMLPersistence

/// Small helpers the cases share; internal to the suite.
enum Support {
    /// `keys` in the order every backend must page them: bytewise over UTF-8.
    static func byteSorted(_ keys: [String]) -> [String] {
        keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Commits a batch built by `build`.
    @discardableResult
    static func commit(_ store: any MLStore, _ build: (inout MLBatch) -> Void) async throws -> MLRevision {
        var batch = MLBatch()
        build(&batch)
        return try await store.commit(batch)
    }

    /// Walks every page of `request` and returns the entries in the order they
    /// came, checking that no page breaks the limit and that the walk ends.
    static func walk(
        _ store: any MLStore, namespace: String, _ request: MLPageRequest,
        file: String = #fileID, line: UInt = #line
    ) async throws -> [MLEntry] {
        var request = request
        var entries: [MLEntry] = []
        var pages = 0
        while true {
            let page = try await store.page(namespace: namespace, request)
            pages += 1
            try expect(
                page.entries.count <= request.limit,
                "page \(pages) of \(namespace) holds \(page.entries.count) entries, more than the limit \(request.limit)",
                file: file, line: line)
            entries += page.entries
            guard let cursor = page.nextCursor else { break }
            try expect(
                !page.entries.isEmpty,
                "page \(pages) of \(namespace) is empty but has a next cursor \(String(reflecting: cursor))",
                file: file, line: line)
            try expect(
                pages <= 10_000, "paging \(namespace) did not end after 10000 pages", file: file, line: line)
            request.after = cursor
        }
        return entries
    }

    /// Every entry of each namespace, in key order, with revisions.
    static func snapshot(_ store: any MLStore, _ namespaces: [String]) async throws -> [String: [MLEntry]] {
        var result: [String: [MLEntry]] = [:]
        for namespace in namespaces {
            result[namespace] = try await walk(store, namespace: namespace, MLPageRequest(limit: 1000))
        }
        return result
    }

    /// The parts of a conflict error, or a failure saying what was thrown instead.
    static func conflict(
        _ error: MLPersistenceError, file: String = #fileID, line: UInt = #line
    ) throws -> (namespace: String, key: String, expected: MLCondition, found: MLRevision?) {
        guard case .conflict(let namespace, let key, let expected, let found) = error else {
            throw MLConformanceFailure("expected a conflict error, found \(error)", file: file, line: line)
        }
        return (namespace, key, expected, found)
    }

    /// Checks that `error` is a conflict on exactly this entry, condition and revision found.
    static func expectConflict(
        _ error: MLPersistenceError, namespace: String, key: String, expected: MLCondition,
        found: MLRevision?, file: String = #fileID, line: UInt = #line
    ) throws {
        let parts = try conflict(error, file: file, line: line)
        try expectEqual(parts.namespace, namespace, "conflict namespace", file: file, line: line)
        try expectEqual(parts.key, key, "conflict key", file: file, line: line)
        try expectEqual(parts.expected, expected, "conflict's expected condition", file: file, line: line)
        try expectEqual(parts.found, found, "conflict's revision found", file: file, line: line)
    }

    /// The sorted `(key, value)` pairs of a seed `list` call, as strings for easy comparison.
    static func listed(_ store: any MLStore, _ namespace: String) async throws -> [String] {
        try await store.list(namespace: namespace).map { "\($0.key)=\($0.value)" }.sorted()
    }
}
