import Foundation
import Hummingbird
import HummingbirdTesting
import RedML
import RedMLHTTP
import Testing

/// Bearer tokens: every route but /healthz and /readyz needs one when the server has one.
@Suite("Auth")
struct AuthTests {
    static let token = "s3cret-token"

    @Test func routesNeedTheTokenExceptHealth() async throws {
        let h = try await Harness(configuration: MLHTTPAPI.Configuration(token: Self.token))
        try await h.register("spam")
        try await h.run(token: Self.token) { client in
            let missing = try await client.send(.get, "/v1/models", authorized: false)
            #expect(missing.status == .unauthorized)
            #expect(missing.errorCode == "unauthorized")
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)

            for wrong in ["Bearer s3cret-tokem", "Bearer s3cret-token2", "Bearer ", "Basic s3cret-token", "s3cret-token",
                          "Bearer S3CRET-TOKEN", "Bearers3cret-token"]
            {
                let reply = try await client.send(.get, "/v1/models", headers: [.authorization: wrong])
                #expect(reply.status == .unauthorized, "\(wrong)")
            }
            // The scheme is case-insensitive (RFC 9110); the token is not.
            for scheme in ["bearer", "BEARER", "bEaReR"] {
                let reply = try await client.send(.get, "/v1/models", headers: [.authorization: "\(scheme) s3cret-token"])
                #expect(reply.status == .ok, "\(scheme)")
            }
            let right = try await client.get("/v1/models")
            #expect(right.status == .ok)

            let health = try await client.send(.get, "/healthz", authorized: false)
            #expect(health.status == .ok)
            #expect(health.json == ["status": "ok"])
            let ready = try await client.send(.get, "/readyz", authorized: false)
            #expect(ready.status == .ok)
            #expect(ready.json == ["status": "ready"])

            // Nothing else is open: not the metrics, the document, or unknown routes.
            #expect(try await client.send(.get, "/metrics", authorized: false).status == .unauthorized)
            #expect(try await client.send(.get, "/openapi.yaml", authorized: false).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/unknown", authorized: false).status == .unauthorized)

            // A refused write changes nothing.
            let write = try await client.send(.put, "/v1/models/spam/active", json: ["version": 1], authorized: false)
            #expect(write.status == .unauthorized)
            let delete = try await client.send(.delete, "/v1/models/spam/active", authorized: false)
            #expect(delete.status == .unauthorized)
        }
        #expect(try await h.registry.activeVersion(of: "spam")?.version == 1)
    }

    @Test func withoutATokenEverythingIsOpen() async throws {
        let h = try await Harness()
        try await h.run { client in
            let reply = try await client.get("/v1/models")
            #expect(reply.status == .ok)
        }
    }

    @Test func nonLoopbackBindingsNeedAToken() throws {
        #expect(throws: MLHTTPBindingError.self) { try MLHTTPBinding.validate(host: "0.0.0.0", token: nil) }
        #expect(throws: MLHTTPBindingError.self) { try MLHTTPBinding.validate(host: "192.168.1.4", token: nil) }
        #expect(throws: MLHTTPBindingError.self) { try MLHTTPBinding.validate(host: "127.0.0.1", token: "") }
        #expect(throws: MLHTTPBindingError.self) { try MLHTTPBinding.validate(host: "127.0.0.1", token: " \t") }
        for host in ["127.1", "127.0.0.256", "127.0.0.01", "128.0.0.1", "127.0.0.1.5"] {
            #expect(throws: MLHTTPBindingError.self, "\(host)") { try MLHTTPBinding.validate(host: host, token: nil) }
        }
        do {
            try MLHTTPBinding.validate(host: "0.0.0.0", token: nil)
        } catch {
            #expect(error.message == "refusing to listen on 0.0.0.0 without a token: pass --token or set REDML_TOKEN, or bind to 127.0.0.1")
        }
        for host in ["127.0.0.1", "::1", "localhost", "LOCALHOST", "127.0.0.2", "127.255.255.254"] {  // all of 127.0.0.0/8
            try MLHTTPBinding.validate(host: host, token: nil)
        }
        try MLHTTPBinding.validate(host: "0.0.0.0", token: "t")
    }

    @Test func makeApplicationRefusesAnInsecureBindingAndServesOnLoopback() async throws {
        let h = try await Harness()
        #expect(throws: MLHTTPBindingError.self) { _ = try h.api.makeApplication(host: "0.0.0.0", port: 0) }
        let app = try h.api.makeApplication(host: "127.0.0.1", port: 0)
        try await app.test(.live) { client in
            let reply = try await client.execute(uri: "/healthz", method: .get)
            #expect(reply.status == .ok)
            #expect(reply.headers[.server] == "RedML")
        }
    }
}
