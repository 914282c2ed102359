import Foundation
import Hummingbird

extension MLHTTPAPI {
    /// `GET /healthz`: always `{"status":"ok"}`, without a token.
    func health<Context>(_ input: RequestInput<Context>) throws -> Response {
        _ = try input.query(allowed: [])
        return JSONResponse.make(["status": "ok"])
    }

    /// `GET /readyz`: `{"status":"ready"}`, or 503 `{"status":"draining"}` once a
    /// graceful shutdown began (``MLHTTPDrainOnShutdown``); without a token.
    func ready<Context>(_ input: RequestInput<Context>) throws -> Response {
        _ = try input.query(allowed: [])
        return readiness.isDraining
            ? JSONResponse.make(["status": "draining"], status: .serviceUnavailable)
            : JSONResponse.make(["status": "ready"])
    }

    /// `GET /metrics`: the Prometheus text exposition of the collector registry.
    func metrics<Context>(_ input: RequestInput<Context>) throws -> Response {
        _ = try input.query(allowed: [])
        guard let prometheus else {
            throw MLHTTPError(.notFound, code: "metrics_disabled", message: "this server was started without metrics")
        }
        var bytes: [UInt8] = []
        prometheus.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `GET /openapi.yaml`: the bundled OpenAPI 3.1 document.
    func openAPIDocument<Context>(_ input: RequestInput<Context>) throws -> Response {
        _ = try input.query(allowed: [])
        return Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try Self.openAPIBytes())))
    }

    /// The bundled `openapi.yaml`.
    public static func openAPIBytes() throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw MLHTTPError(.internalServerError, code: "internal", message: "openapi.yaml is missing from the bundle")
        }
        return Array(try Data(contentsOf: url))
    }
}
