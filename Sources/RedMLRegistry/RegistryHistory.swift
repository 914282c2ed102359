import Foundation
import RedMLCore
import RedMLPersistence

extension MLModelRegistry {
    /// A page of `model`'s history, oldest first unless the query says otherwise.
    ///
    /// "Who moved `champion`, and when?" is
    /// `history(of: "spam", MLHistoryQuery(newestFirst: true, alias: "champion"))`.
    public func history(of model: String, _ query: MLHistoryQuery = MLHistoryQuery()) async throws -> MLHistoryPage {
        try await withModelErrors(model) {
            try validateLimit(query.limit, model: model)
            _ = try await requireModel(model)
            var result = MLHistoryPage(events: [], nextCursor: nil, skipped: [])
            var request = MLPageRequest(
                after: query.after.map { MLKey.modelEvent(model, $0) }, prefix: MLKey.modelEventPrefix(model),
                limit: query.limit, order: query.newestFirst ? .descending : .ascending)
            while true {
                let page = try await store.page(namespace: MLNamespace.modelHistory, request)
                for entry in page.entries {
                    if result.events.count == query.limit {
                        result.nextCursor = result.events.last?.sequence
                        return result
                    }
                    do {
                        let event = try MLJSON.decode(MLRegistryEvent.self, from: entry.value,
                                                      namespace: MLNamespace.modelHistory, key: entry.key)
                        if query.admits(event) { result.events.append(event) }
                    } catch let error as MLPersistenceError {
                        logger.warning("skipped corrupt history event", metadata: ["key": "\(entry.key)", "error": "\(error)"])
                        result.skipped.append(error)
                    }
                }
                guard let cursor = page.nextCursor else { return result }
                request.after = cursor
            }
        }
    }

    /// Which version was active at `date`, from the history; `nil` if none was.
    public func activeVersion(of model: String, at date: Date) async throws -> UInt32? {
        let moment = date.epochMilliseconds
        var query = MLHistoryQuery(limit: 500, newestFirst: true, kinds: [.activated, .deactivated])
        while true {
            let page = try await history(of: model, query)
            // Events are in sequence order; their times follow it on one clock.
            if let event = page.events.first(where: { $0.atMs <= moment }) {
                return event.kind == .activated ? event.version : nil
            }
            guard let cursor = page.nextCursor else { return nil }
            query.after = cursor
        }
    }
}
