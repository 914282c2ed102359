import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import RedML
import RedMLHTTP
import Testing

/// /healthz, /metrics and /openapi.yaml.
@Suite("Operational routes")
struct OperationalRouteTests {
    @Test func healthMetricsAndDocument() async throws {
        let h = try await Harness()
        h.prometheus.makeCounter(name: "redml_test_total").increment(by: Int64(3))
        try await h.run { client in
            let health = try await client.get("/healthz")
            #expect(health.status == .ok)
            #expect(health.json == ["status": "ok"])
            _ = try await client.get("/v1/models/nope")

            let metrics = try await client.get("/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains("# TYPE redml_test_total counter"))
            #expect(metrics.text.contains("redml_test_total 3"))
            // Requests are counted by route template, not by path.
            #expect(metrics.text.contains(#"redml_http_requests_total{method="GET",route="/v1/models/{name}",status="404"} 1"#))

            let document = try await client.get("/openapi.yaml")
            #expect(document.status == .ok)
            #expect(document.text.hasPrefix("openapi: 3.1.0"))
            #expect(document.bytes == (try MLHTTPAPI.openAPIBytes()))
        }
    }

    @Test func theRescueCounterIsExportedFromTheStart() async throws {
        let prometheus = PrometheusCollectorRegistry()
        var configuration = MLJobQueue.Configuration()
        configuration.metricsFactory = PrometheusMetricsFactory(registry: prometheus)
        _ = MLJobQueue(store: InMemoryMLPersistence(), configuration: configuration)
        var buffer: [UInt8] = []
        prometheus.emit(into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self).contains("redml_leases_rescued_total 0"))
    }

    @Test func metricsWithoutARegistryAreA404() async throws {
        let h = try await Harness()
        let api = MLHTTPAPI(registry: h.registry, queue: h.queue)
        let router = Router()
        api.addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            let reply = try await client.execute(uri: "/metrics", method: .get)
            #expect(reply.status == .notFound)
        }
    }
}
