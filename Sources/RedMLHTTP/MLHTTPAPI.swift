import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import RedMLCore
import RedMLQueue
import RedMLRegistry

/// RedML's HTTP API: the registry and the queue as JSON over HTTP, plus
/// `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml`.
///
/// ```swift
/// let api = MLHTTPAPI(registry: registry, queue: queue, prometheus: prometheus,
///                     configuration: .init(token: token), logger: logger)
/// let app = try api.makeApplication(host: "127.0.0.1", port: 8080)
/// try await ServiceGroup(services: [app, workers], logger: logger).run()
/// ```
///
/// Every route is listed once, in ``MLHTTPRoute``; the bundled OpenAPI
/// document describes exactly those routes.
public struct MLHTTPAPI: Sendable {
    /// Settings, each with a documented default.
    public struct Configuration: Sendable {
        /// The bearer token every route but `/healthz` and `/readyz` requires; `nil` (the
        /// default) requires none, which ``MLHTTPBinding`` only allows on loopback.
        public var token: String?
        /// The largest JSON request body, in bytes. Default: 1 MiB.
        /// (`weights_base64` registrations count against it; stream larger weights
        /// as `application/octet-stream`.)
        public var maximumBodySize: Int
        /// The largest streamed weights upload, in bytes. Default: 4 GiB.
        public var maximumWeightsSize: Int
        /// How many items a page holds when `limit` is not given. Default: 100.
        public var defaultPageLimit: Int
        /// The largest `limit` a page may ask for (at most 1000). Default: 1000.
        public var maximumPageLimit: Int
        /// The `Server` header. Default: `RedML`.
        public var serverName: String?
        /// How long a job's event stream may stay silent before it sends a
        /// comment line, which keeps proxies from closing it and finds a client
        /// that has gone (the write fails), so its stream ends. At least 10 ms. Default: 15 s.
        public var eventStreamHeartbeat: Duration = .seconds(15)
        /// How long a connection may send nothing while the server waits for
        /// a request or reads one (headers or body) before it is closed, so
        /// that idle or stalled clients do not hold connections forever. A
        /// request being answered (an event stream, say) is not cut off.
        /// `nil` never closes. Default: 60 s.
        public var idleTimeout: Duration? = .seconds(60)

        /// The defaults, with `token` if given.
        public init(
            token: String? = nil, maximumBodySize: Int = 1 << 20, maximumWeightsSize: Int = 4 << 30,
            defaultPageLimit: Int = 100, maximumPageLimit: Int = 1_000, serverName: String? = "RedML"
        ) {
            self.token = token
            self.maximumBodySize = maximumBodySize
            self.maximumWeightsSize = maximumWeightsSize
            self.maximumPageLimit = min(max(1, maximumPageLimit), 1_000)  // the registry and queue stop at 1000
            self.defaultPageLimit = min(max(1, defaultPageLimit), self.maximumPageLimit)
            self.serverName = serverName
        }
    }

    /// The registry the model routes serve.
    public let registry: MLModelRegistry
    /// The queue the job routes serve.
    public let queue: MLJobQueue
    /// Where `/metrics` reads from and request counts go; `nil` turns `/metrics` into a 404.
    public let prometheus: PrometheusCollectorRegistry?
    /// The settings.
    public let configuration: Configuration
    /// Where requests that fail on the server's side are logged.
    public let logger: Logger
    /// What `/readyz` answers; ``MLHTTPDrainOnShutdown`` turns it to draining.
    public let readiness: MLHTTPReadiness

    /// Creates the API over `registry` and `queue`.
    public init(
        registry: MLModelRegistry, queue: MLJobQueue, prometheus: PrometheusCollectorRegistry? = nil,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "redml.http", factory: { _ in SwiftLogNoOpLogHandler() }),
        readiness: MLHTTPReadiness = MLHTTPReadiness()
    ) {
        self.registry = registry
        self.queue = queue
        self.prometheus = prometheus
        self.configuration = configuration
        self.logger = logger
        self.readiness = readiness
    }

    /// Adds the API to `router`: a middleware (bearer auth except on
    /// `/healthz` and `/readyz`, errors as JSON, request counts) and every route of
    /// ``MLHTTPRoute``.
    ///
    /// The middleware is the router's, so it also covers unknown routes (a JSON
    /// 404) and any route added to `router` afterwards.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.add(middleware: APIMiddleware<Context>(
            token: configuration.token, prometheus: prometheus, logger: logger))
        for route in MLHTTPRoute.allCases {
            router.on(RouterPath(route.path), method: route.httpMethod) { request, context in
                if !route.readsBody { try await RequestInput<Context>.refuseBody(of: request, route: route) }
                return try await self.respond(
                    to: route, RequestInput(request: request, context: context, configuration: self.configuration))
            }
            if route.httpMethod == .get {
                // HEAD is GET without the body: same status and headers, and a lazy body (a
                // weights download) is never read.
                router.on(RouterPath(route.path), method: .head) { request, context in
                    try await RequestInput<Context>.refuseBody(of: request, route: route)
                    let response = try await self.respond(
                        to: route, RequestInput(request: request, context: context, configuration: self.configuration))
                    return Response(status: response.status, headers: response.headers)
                }
            }
        }
        // A known path asked with a method it does not take: 405 naming the ones it does.
        let methodsByPath = Dictionary(grouping: MLHTTPRoute.allCases, by: \.path)
        for (path, routes) in methodsByPath {
            var allowed = routes.map(\.httpMethod)
            if allowed.contains(.get) { allowed.append(.head) }
            let allow = allowed.map(\.rawValue).sorted().joined(separator: ", ")
            // Not OPTIONS: an app that embeds the API answers CORS preflights itself, with its own
            // route or a middleware that sees unmatched requests, and a route here would take them.
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .trace]
            where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw MLHTTPError(
                        .methodNotAllowed, code: "method_not_allowed",
                        message: "\(request.method) is not allowed on \(request.uri.path); allowed: \(allow)",
                        headers: [.allow: allow])
                }
            }
        }
    }

    /// A Hummingbird application (a swift-service-lifecycle `Service`) serving
    /// the API on `host`:`port`.
    ///
    /// - Parameter onServerRunning: called with the port once the server
    ///   listens (useful with port 0).
    /// - Throws: ``MLHTTPBindingError`` for a non-loopback host without a token.
    public func makeApplication(
        host: String, port: Int, onServerRunning: @escaping @Sendable (Int?) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        try MLHTTPBinding.validate(host: host, token: configuration.token)
        let router = Router(context: BasicRequestContext.self)
        addRoutes(to: router)
        let idle = configuration.idleTimeout.map { duration -> TimeAmount in
            let (seconds, attoseconds) = duration.components
            return .nanoseconds(max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        }
        return Application(
            router: router,
            server: .http1(configuration: HTTP1Channel.Configuration(idleTimeout: idle)),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port),
                                                    serverName: configuration.serverName),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port) },
            logger: logger)
    }
}

extension MLHTTPRoute {
    /// Whether the route reads a request body. The others (every GET and
    /// DELETE) refuse one rather than ignore it: a client that sends a
    /// compare-and-swap as a DELETE body would otherwise delete unconditionally.
    var readsBody: Bool { method != "GET" && method != "DELETE" }

    /// The method as Hummingbird spells it.
    var httpMethod: HTTPRequest.Method {
        switch method {
        case "POST": .post
        case "PUT": .put
        case "PATCH": .patch
        case "DELETE": .delete
        default: .get
        }
    }
}
