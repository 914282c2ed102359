/// A page of decoded records taken from a namespace, with corrupt ones set aside.
package struct MLFilteredPage<Item> {
    /// The records, in the walk's order.
    package var items: [Item] = []
    /// The key of the last record returned, to continue after; `nil` at the end.
    package var nextCursor: String?
    /// Records that failed to decode, skipped.
    package var skipped: [MLPersistenceError] = []
}

extension MLStore {
    /// Walks `namespace` from `request` (its cursor, prefix and order), turning
    /// entries into items with `transform` (which returns `nil` to filter one
    /// out), until `limit` items are found or the namespace ends.
    ///
    /// Reads the store in pages of at least 64 entries whatever `limit` is, so
    /// a selective filter does not cost one store call per entry. A record
    /// whose `transform` throws a corruption error is reported in
    /// ``MLFilteredPage/skipped`` instead of failing the page.
    package func filteredPage<Item>(
        namespace: String, _ request: MLPageRequest, limit: Int,
        _ transform: (MLEntry) throws -> Item?
    ) async throws -> MLFilteredPage<Item> {
        var result = MLFilteredPage<Item>()
        var request = request
        request.limit = max(limit, 64)
        while true {
            let page = try await self.page(namespace: namespace, request)
            for entry in page.entries {
                if result.items.count == limit { return result }  // more remain: the cursor is set
                do {
                    if let item = try transform(entry) {
                        result.items.append(item)
                        result.nextCursor = entry.key
                    }
                } catch let error as MLPersistenceError {
                    guard case .corruption = error else { throw error }
                    result.skipped.append(error)
                }
            }
            guard let cursor = page.nextCursor else {
                result.nextCursor = nil
                return result
            }
            request.after = cursor
        }
    }
}

extension MLStore {
    /// Calls `body` with every entry of `namespace`, in key order, reading
    /// `pageSize` entries per store call: for walks that must see everything
    /// (an integrity check) without holding a whole namespace in memory.
    package func forEachEntry(
        in namespace: String, pageSize: Int = 1_000, _ body: (MLEntry) async throws -> Void
    ) async throws {
        var request = MLPageRequest(limit: pageSize)
        while true {
            let page = try await self.page(namespace: namespace, request)
            for entry in page.entries { try await body(entry) }
            guard let cursor = page.nextCursor else { return }
            request.after = cursor
        }
    }
}
