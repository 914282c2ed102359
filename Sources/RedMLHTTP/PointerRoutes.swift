import Hummingbird
import RedMLCore
import RedMLRegistry

extension MLHTTPAPI {
    /// `GET /v1/models/{name}/active`: the active version, or 404 `no_active_version`.
    func getActive<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let name = try input.path("name")
        guard let active = try await registry.activeVersion(of: name) else {
            throw MLHTTPError(.notFound, code: "no_active_version", message: "model '\(name)' has no active version")
        }
        return JSONResponse.make(.object(RegistryJSON.version(active)))
    }

    /// `PUT /v1/models/{name}/active` with `{"version": N}`: activate (or roll back).
    func setActive<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let name = try input.path("name")
        let body = try JSONFields(try await input.jsonObject() ?? [:], allowed: ["version"])
        let version = try await registry.activate(name, version: try body.requiredVersion("version"), by: input.actor())
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }

    /// `DELETE /v1/models/{name}/active`: no version serves any more.
    func clearActive<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        try await registry.deactivate(try input.path("name"), by: input.actor())
        return JSONResponse.noContent()
    }

    /// `GET /v1/models/{name}/aliases/{alias}`: the version the alias points at.
    func getAlias<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, alias) = (try input.path("name"), try input.path("alias"))
        guard let version = try await registry.version(of: name, alias: alias) else {
            throw MLHTTPError(.notFound, code: "no_active_version", message: "model '\(name)' has no \(alias) version")
        }
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }

    /// `PUT /v1/models/{name}/aliases/{alias}` with `{"version": N, "expected": N | null | "absent"}`.
    ///
    /// Without `expected` the alias moves wherever it points; with a number it
    /// moves only if it points there now; with `null` or `"absent"` only if it
    /// does not exist. A stale expectation is a 409 `alias_conflict`.
    func setAlias<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, alias) = (try input.path("name"), try input.path("alias"))
        let body = try JSONFields(try await input.jsonObject() ?? [:], allowed: ["version", "expected"])
        let target = try body.requiredVersion("version")
        let version = try await registry.setAlias(
            alias, of: name, to: target, expecting: try Self.expectation(body), by: input.actor())
        return JSONResponse.make(.object(RegistryJSON.version(version)))
    }

    /// `DELETE /v1/models/{name}/aliases/{alias}?expected=N|absent`.
    func removeAlias<Context>(_ input: RequestInput<Context>) async throws -> Response {
        let query = try input.query(allowed: ["expected"])
        let (name, alias) = (try input.path("name"), try input.path("alias"))
        let expecting: MLAliasExpectation = switch query["expected"] {
        case nil: .any
        case "absent": .absent
        case let raw?: .pointsAt(try RequestInput<Context>.version(raw, field: "query parameter 'expected'"))
        }
        try await registry.removeAlias(alias, of: name, expecting: expecting, by: input.actor())
        return JSONResponse.noContent()
    }

    private static func expectation(_ body: JSONFields) throws(MLHTTPError) -> MLAliasExpectation {
        switch body["expected"] {
        case nil: return .any
        case .null, .string("absent"): return .absent
        case .string(let other):
            throw MLHTTPError.invalidField("request body field 'expected'", "the only string allowed is \"absent\", got '\(JSONFields.shown(other))'")
        default: return .pointsAt(try body.requiredVersion("expected"))
        }
    }
}
