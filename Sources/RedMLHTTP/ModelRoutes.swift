import Hummingbird
import RedMLCore
import RedMLRegistry

extension MLHTTPAPI {
    /// `GET /v1/models?limit&cursor&order&tag`.
    func listModels<Context>(_ input: RequestInput<Context>) async throws -> Response {
        let query = try input.query(allowed: ["limit", "cursor", "order", "tag"])
        if let cursor = query["cursor"], cursor.unicodeScalars.contains("\u{0}") {
            // No model name holds U+0000, and no store could look one up.
            throw MLHTTPError.invalidField("query parameter 'cursor'", "'\(JSONFields.shown(cursor))' is not a cursor this list returned")
        }
        let page = try await registry.models(MLModelQuery(
            after: query["cursor"], limit: try query.limit(), descending: try query.newestFirst(default: false),
            tag: try query.tag().map { MLTagFilter(key: $0.key, value: $0.value) }))
        return JSONResponse.make(JSONResponse.page([
            "models": .array(page.models.map { .object(RegistryJSON.model($0)) }),
            "next_cursor": RegistryJSON.optional(page.nextCursor),
        ], skipped: page.skipped))
    }

    /// `GET /v1/models/{name}`: the model with its active version.
    ///
    /// An active version whose record is corrupt is named under `skipped`
    /// (and `active` is null) rather than failing the whole read with a 500.
    func getModel<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let details = try await registry.details(of: try input.path("name"))
        var json = RegistryJSON.model(details.model)
        json["active"] = details.active.map { .object(RegistryJSON.version($0)) } ?? .null
        return JSONResponse.make(JSONResponse.page(json, skipped: details.skipped))
    }

    /// `PATCH /v1/models/{name}` with `{"description", "tags"}`.
    func updateModel<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let name = try input.path("name")
        let update = try Self.metadataUpdate(try await input.jsonObject() ?? [:])
        let model = try await registry.updateModel(
            name, description: update.description, tags: update.tags, by: input.actor())
        return JSONResponse.make(.object(RegistryJSON.model(model)))
    }

    /// The `{"description", "tags"}` body of a model's or a version's PATCH.
    ///
    /// An absent field stays as it is. `description` is the new description:
    /// `""` or `null` (what a GET shows for none) clears it. `tags` replaces the
    /// whole map, `{}` removing every tag; `null` is refused rather than read as
    /// "leave the tags", which a client that meant to clear them would not see.
    static func metadataUpdate(_ object: MLJSONObject) throws(MLHTTPError) -> (description: String?, tags: [String: String]?) {
        let body = try JSONFields(object, allowed: ["description", "tags"])
        if body["tags"] == .null {
            throw MLHTTPError.invalidField("request body field 'tags'", "must be an object of strings, not null; send {} to remove every tag")
        }
        let description = body["description"] == .null ? "" : try body.string("description")
        return (description, try body.stringMap("tags"))
    }

    /// `GET /v1/models/{name}/history?limit&cursor&order&alias&kind`.
    func modelHistory<Context>(_ input: RequestInput<Context>) async throws -> Response {
        let query = try input.query(allowed: ["limit", "cursor", "order", "alias", "kind"])
        let name = try input.path("name")
        var kinds: Set<MLRegistryEvent.Kind> = []
        if let raw = query["kind"] {
            // A kind no event has would match nothing, silently: refuse it, and an empty list.
            let known = MLRegistryEvent.Kind.all.map(\.rawValue)
            for part in raw.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                guard known.contains(part) else {
                    throw MLHTTPError.invalidField("query parameter 'kind'",
                                                   "'\(JSONFields.shown(part))' is no event kind; expected a comma-separated list of "
                                                       + known.joined(separator: ", "))
                }
                kinds.insert(MLRegistryEvent.Kind(rawValue: part))
            }
        }
        if let alias = query["alias"], alias.isEmpty {
            throw MLHTTPError.invalidField("query parameter 'alias'", "must not be empty")
        }
        let page = try await registry.history(of: name, MLHistoryQuery(
            after: try query.numberCursor(UInt64.self), limit: try query.limit(),
            newestFirst: try query.newestFirst(default: false), alias: query["alias"], kinds: kinds))
        return JSONResponse.make(JSONResponse.page([
            "events": .array(page.events.map { .object(RegistryJSON.event($0)) }),
            "next_cursor": RegistryJSON.optional(page.nextCursor.map { String($0) }),
        ], skipped: page.skipped))
    }
}
