import Hummingbird
import Logging
import Prometheus

/// Runs around every request: checks the bearer token, turns every error into
/// the API's JSON error, logs server-side failures and counts responses.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let prometheus: PrometheusCollectorRegistry?
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        do {
            try authorize(request, context: context)
            response = try await next(request, context)
        } catch {
            var failure = ErrorMapping.httpError(for: error)
            if error is HTTPError, failure.status == .notFound {
                failure = .noRoute(request.method, request.uri.path)
            }
            if failure.status.code >= 500 {
                logger.error("request failed", metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(failure)",
                ])
            }
            response = try failure.response(from: request, context: context)
        }
        count(request, context: context, status: response.status)
        return response
    }

    /// Everything but the probes needs the token, unknown routes included.
    private func authorize(_ request: Request, context: Context) throws(MLHTTPError) {
        guard let token, !MLHTTPRoute.publicPaths.contains(context.endpointPath ?? "") else { return }
        let header = request.headers[.authorization]
        guard BearerToken.authorizes(header, token: token) else {
            throw MLHTTPError.unauthorized(header == nil
                ? "this API needs 'Authorization: Bearer <token>'"
                : "the bearer token is not valid")
        }
    }

    /// `redml_http_requests_total`, with a help line for the exposition.
    private static var requestsDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "redml", subsystem: "http", metricName: "requests", unitName: "total",
            helpText: "HTTP requests answered, by method, route template and status")
    }

    private func count(_ request: Request, context: Context, status: HTTPResponse.Status) {
        guard let prometheus else { return }
        // The route template, not the path, so the label's values stay few.
        let route = context.endpointPath.flatMap { path in MLHTTPRoute.allCases.first { $0.path == path }?.path } ?? "unmatched"
        prometheus.makeCounter(
            descriptor: Self.requestsDescriptor,
            labels: [("method", request.method.rawValue), ("route", route), ("status", String(status.code))]
        ).increment()
    }
}
