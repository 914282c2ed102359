import Foundation
import Logging
import Metrics
import RedMLCore
import RedMLPersistence

/// The model registry: named models, immutable numbered versions, the active
/// version and aliases, verified weights and an append-only history, stored
/// through any ``MLStore`` so that it works on every backend.
///
/// Every change to a model is one atomic batch, conditional on the revision of
/// the model's record that the change was computed from. Two writers (threads
/// or processes) that race therefore cannot both win: the loser re-reads and
/// tries again, so version numbers come out distinct and consecutive.
///
/// Opening a registry reads nothing; every lookup is by key (O(1) in memory,
/// O(log n) on disk). Pointer lookups are served from a small cache that is
/// checked against the model record's revision, so they stay correct when
/// another process changes the model.
public final class MLModelRegistry: Sendable {
    /// Settings, each with a documented default.
    public struct Configuration: Sendable {
        /// How many times a change is retried when other writers changed the
        /// model in between. Default: 1000.
        public var maximumAttempts: Int = 1_000
        /// How many models' pointers and active versions are cached. Default: 1024.
        public var cacheCapacity: Int = 1_024
        /// The wall clock for created-at and event times. Default: the system clock.
        public var currentTime: @Sendable () -> Date = { Date() }
        /// Where the registry logs retries, skipped corrupt records and retention.
        /// Default: a logger that discards everything.
        public var logger = Logger(label: "redml.registry", factory: { _ in SwiftLogNoOpLogHandler() })
        /// Where the registry's metrics go. Default: `nil`, the factory the
        /// application bootstrapped with `MetricsSystem.bootstrap` (if any).
        public var metricsFactory: (any MetricsFactory)?

        /// The defaults.
        public init() {}
    }

    /// The store the registry keeps its records and weights in.
    public let store: any MLStore
    let configuration: Configuration
    let cache: ModelCache
    let metrics: RegistryMetrics

    /// Opens a registry over `store`. Reads nothing until it is used.
    public init(store: any MLStore, configuration: Configuration = Configuration()) {
        self.store = store
        self.configuration = configuration
        self.cache = ModelCache(capacity: configuration.cacheCapacity)
        self.metrics = RegistryMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
    }

    var logger: Logger { configuration.logger }

    var nowMs: Int64 { configuration.currentTime().epochMilliseconds }

    /// Runs `body`, turning every error into an ``MLRegistryError`` that names `model`.
    func withModelErrors<R>(_ model: String?, version: UInt32? = nil, _ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as MLRegistryError {
            throw error
        } catch let error as MLPersistenceError {
            throw MLRegistryError.persistence(error, model: model, version: version)
        } catch let error as MLJSONError {
            throw MLRegistryError.json(error, model: model ?? "?")
        } catch let error as CancellationError {
            throw error
        } catch {
            throw MLRegistryError(code: .persistence, message: "unexpected failure: \(error)", model: model,
                                  version: version)
        }
    }
}
