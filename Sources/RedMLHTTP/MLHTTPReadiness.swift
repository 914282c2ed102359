import ServiceLifecycle
import Synchronization

/// Whether the server takes new work: what `GET /readyz` answers.
///
/// A load balancer or Kubernetes readiness probe stops sending traffic to a
/// server whose `/readyz` answers 503, while `/healthz` (liveness) still
/// answers 200, so the process is not killed while it drains.
public final class MLHTTPReadiness: Sendable {
    private let draining = Atomic<Bool>(false)

    /// Ready, not draining.
    public init() {}

    /// Whether ``beginDraining()`` was called: `/readyz` answers 503 `draining`.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// From now on `/readyz` answers 503 `draining`. Requests are still served.
    public func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }
}

/// A `Service` that marks the API as draining when a graceful shutdown
/// reaches it, and then returns.
///
/// A `ServiceGroup` shuts its services down one at a time, last listed first.
/// List this one last and the HTTP application before the services that
/// drain (a worker pool, `MLRuntime`), so that on SIGTERM `/readyz` turns
/// to 503 at once while the server keeps answering (`/healthz`, job events,
/// cancels) until the workers have finished or checkpointed their jobs:
///
/// ```swift
/// ServiceGroup(services: [app, runtime, MLHTTPDrainOnShutdown(api.readiness)], …)
/// ```
public struct MLHTTPDrainOnShutdown: Service {
    private let readiness: MLHTTPReadiness

    /// Drains `readiness` (``MLHTTPAPI/readiness``) on graceful shutdown.
    public init(_ readiness: MLHTTPReadiness) {
        self.readiness = readiness
    }

    /// Waits for graceful shutdown (or cancellation), marks the API as draining and returns.
    public func run() async throws {
        try? await gracefulShutdown()
        readiness.beginDraining()
    }
}
