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
            let request = MLPageRequest(
                after: query.after.map { MLKey.modelEvent(model, $0) }, prefix: MLKey.modelEventPrefix(model),
                order: query.newestFirst ? .descending : .ascending)
            let page = try await store.filteredPage(namespace: MLNamespace.modelHistory, request, limit: query.limit) { entry -> MLRegistryEvent? in
                let event = try MLJSON.decode(MLRegistryEvent.self, from: entry.value, namespace: MLNamespace.modelHistory,
                                              key: entry.key)
                return query.admits(event) ? event : nil
            }
            for error in page.skipped {
                logger.warning("skipped corrupt history event", metadata: ["model": "\(model)", "error": "\(error)"])
            }
            return MLHistoryPage(events: page.items, nextCursor: page.nextCursor == nil ? nil : page.items.last?.sequence,
                                 skipped: page.skipped)
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
