import Hummingbird
import RedMLCore
import RedMLRegistry

extension MLHTTPAPI {
    /// `GET /v1/models/{name}/versions?limit&cursor&order&archived&tag`.
    func listVersions<Context>(_ input: RequestInput<Context>) async throws -> Response {
        let query = try input.query(allowed: ["limit", "cursor", "order", "archived", "tag"])
        let name = try input.path("name")
        let page = try await registry.versions(of: name, MLVersionQuery(
            after: try query.numberCursor(UInt32.self), limit: try query.limit(),
            newestFirst: try query.newestFirst(default: false), archived: try query.bool("archived"),
            tag: try query.tag().map { MLTagFilter(key: $0.key, value: $0.value) }))
        return JSONResponse.make(JSONResponse.page([
            "versions": .array(page.versions.map { .object(RegistryJSON.version($0)) }),
            "next_cursor": RegistryJSON.optional(page.nextCursor.map { String($0) }),
        ], skipped: page.skipped))
    }

    /// `GET /v1/models/{name}/versions/{version}`: the metadata, never the weights.
    func getVersion<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let version = try await registry.version(try input.path("name"), try input.version())
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }

    /// `PATCH /v1/models/{name}/versions/{version}` with `{"description", "tags"}`.
    func updateVersion<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, number) = (try input.path("name"), try input.version())
        let update = try Self.metadataUpdate(try await input.jsonObject() ?? [:])
        let version = try await registry.updateVersion(
            name, version: number, description: update.description, tags: update.tags, by: input.actor())
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }

    /// `POST …/versions/{version}/archive`, body optionally `{"force": true}`.
    func archiveVersion<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, number) = (try input.path("name"), try input.version())
        let body = try JSONFields(try await input.jsonObject(optional: true) ?? [:], allowed: ["force"])
        let version = try await registry.archive(name, version: number, force: try body.bool("force") ?? false,
                                                 by: input.actor())
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }

    /// `POST …/versions/{version}/unarchive` (no body).
    func unarchiveVersion<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, number) = (try input.path("name"), try input.version())
        _ = try JSONFields(try await input.jsonObject(optional: true) ?? [:], allowed: [])
        let version = try await registry.unarchive(name, version: number, by: input.actor())
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }
}
