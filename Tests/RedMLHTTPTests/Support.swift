import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import RedML
import RedMLHTTP
import RedMLTestFixtures
import RedMLTesting
import Testing

/// One API over a fresh store, with the registry and queue it serves, for a test to drive.
struct Harness {
    let store: any MLStore
    let registry: MLModelRegistry
    let queue: MLJobQueue
    let prometheus: PrometheusCollectorRegistry
    let api: MLHTTPAPI

    init(
        _ fixture: MLStoreFixture = Backends.inMemory,
        configuration: MLHTTPAPI.Configuration = MLHTTPAPI.Configuration()
    ) async throws {
        store = try await fixture.makeStore()
        registry = MLModelRegistry(store: store)
        var queueConfiguration = MLJobQueue.Configuration()
        queueConfiguration.watchInterval = .milliseconds(20)
        queue = MLJobQueue(store: store, configuration: queueConfiguration)
        prometheus = PrometheusCollectorRegistry()
        api = MLHTTPAPI(registry: registry, queue: queue, prometheus: prometheus, configuration: configuration)
    }

    /// Runs `body` against the API through Hummingbird's in-process router client.
    func run(token: String? = nil, _ body: @Sendable (Client) async throws -> Void) async throws {
        let router = Router()
        api.addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            try await body(Client(base: client, token: token))
        }
    }

    /// Registers a version directly through the registry.
    @discardableResult
    func register(_ model: String, _ weights: String = "weights", activate: Bool = true) async throws -> MLModelVersion {
        try await registry.register(MLRegistration(model: model, activate: activate), weights: Data(weights.utf8))
    }
}

/// Sends requests with the bearer token, if any, and reads replies.
struct Client: Sendable {
    let base: any TestClientProtocol
    let token: String?

    func send(
        _ method: HTTPRequest.Method, _ uri: String, json: MLJSONValue? = nil, text: String? = nil,
        bytes: [UInt8]? = nil, headers: HTTPFields = [:], authorized: Bool = true
    ) async throws -> Reply {
        var headers = headers
        if authorized, let token, headers[.authorization] == nil { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(string: json.jsonText)
        } else if let text {
            body = ByteBuffer(string: text)
        } else if let bytes {
            body = ByteBuffer(bytes: bytes)
        }
        if body != nil, headers[.contentType] == nil {
            headers[.contentType] = bytes == nil ? "application/json" : "application/octet-stream"
        }
        let response = try await base.execute(uri: uri, method: method, headers: headers, body: body)
        return Reply(status: response.status, headers: response.headers, bytes: Array(response.body.readableBytesView))
    }

    func get(_ uri: String) async throws -> Reply { try await send(.get, uri) }
}

/// A response, with its body read as JSON on demand.
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let bytes: [UInt8]

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The body as a JSON object; records an issue if it is not one.
    var json: MLJSONObject {
        do {
            return try MLJSONValue.parseObject(text, field: "response")
        } catch {
            Issue.record("response is not a JSON object: \(error): \(text.prefix(300))")
            return [:]
        }
    }

    /// The `error.code` of an error body.
    var errorCode: String? {
        guard case .object(let error)? = json["error"], case .string(let code)? = error["code"] else { return nil }
        return code
    }

    /// The `skipped` strings of a list's body (`nil` when absent); records an issue if it is there but not strings.
    var skipped: [String]? {
        guard let value = json["skipped"] else { return nil }
        guard case .array(let items) = value else {
            Issue.record("skipped is not an array: \(text)")
            return nil
        }
        return items.compactMap { item in
            guard case .string(let text) = item else { return nil }
            return text
        }
    }

    /// The `error.message` of an error body.
    var errorMessage: String {
        guard case .object(let error)? = json["error"], case .string(let message)? = error["message"] else { return "" }
        return message
    }
}

extension MLJSONObject {
    func int(_ key: String) -> Int64? { self[key]?.intValue }

    func string(_ key: String) -> String? {
        guard case .string(let value)? = self[key] else { return nil }
        return value
    }

    func objects(_ key: String) -> [MLJSONObject] {
        guard case .array(let values)? = self[key] else { return [] }
        return values.compactMap { value in
            guard case .object(let object) = value else { return nil }
            return object
        }
    }
}

/// A reproducible byte pattern of `count` bytes.
func patternBytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}
