// swift-tools-version: 6.1
// RedML: a durable model registry and ML job queue for Swift servers.
import PackageDescription

let package = Package(
    name: "RedML",
    platforms: [.macOS(.v15)],
    products: [
        // The umbrella: `import RedML` brings the public API and the embedded SQLite default.
        .library(name: "RedML", targets: ["RedML"]),
        .library(name: "RedMLCore", targets: ["RedMLCore"]),
        .library(name: "RedMLPersistence", targets: ["RedMLPersistence"]),
        .library(name: "RedMLSQLite", targets: ["RedMLSQLite"]),
        .library(name: "RedMLRegistry", targets: ["RedMLRegistry"]),
        .library(name: "RedMLQueue", targets: ["RedMLQueue"]),
        // The embedding API: registry, queue, workers and metrics as one Service.
        .library(name: "RedMLRuntime", targets: ["RedMLRuntime"]),
        // The built-in `train` handler: softmax regression on CSV data.
        .library(name: "RedMLTrainer", targets: ["RedMLTrainer"]),
        // The HTTP API on Hummingbird.
        .library(name: "RedMLHTTP", targets: ["RedMLHTTP"]),
        // The PostgreSQL backend (only this product links PostgresNIO).
        .library(name: "RedMLPostgres", targets: ["RedMLPostgres"]),
        // The shared conformance suite, for anyone writing a backend.
        .library(name: "RedMLTesting", targets: ["RedMLTesting"]),
        .executable(name: "redml-bench", targets: ["RedMLBench"]),
        // The operator command: `swift run redml demo`, `redml store backup`, …
        .executable(name: "redml", targets: ["RedMLCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // Only the executables use it directly: they hand Swift Concurrency's global executor to NIO's event loops.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        // Core types shared by every layer: namespaces, key helpers.
        .target(name: "RedMLCore"),
        // The persistence protocol, its error, batches, blobs and the in-memory backend.
        .target(
            name: "RedMLPersistence",
            dependencies: [
                "RedMLCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The durable embedded backend: one SQLite file through GRDB.
        .target(
            name: "RedMLSQLite",
            dependencies: [
                "RedMLPersistence",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API, for the WAL hook that moves checkpoints off the commit path.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The model registry: versions, pointers, history and weights over any store.
        .target(
            name: "RedMLRegistry",
            dependencies: [
                "RedMLCore",
                "RedMLPersistence",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The job queue: jobs, leases, retries, checkpoints and the worker pool.
        .target(
            name: "RedMLQueue",
            dependencies: [
                "RedMLCore",
                "RedMLPersistence",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MLRuntime: one store, the registry, the queue, its workers and metrics, as a Service.
        .target(
            name: "RedMLRuntime",
            dependencies: [
                "RedMLCore",
                "RedMLPersistence",
                "RedMLSQLite",
                "RedMLRegistry",
                "RedMLQueue",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The built-in trainer and its bundled data sets (UCI, CC BY 4.0).
        .target(
            name: "RedMLTrainer",
            dependencies: [
                "RedMLCore",
                "RedMLRegistry",
                "RedMLQueue",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Datasets")]
        ),
        // The `/v1` HTTP API, `/healthz`, `/metrics` and `/openapi.yaml`.
        .target(
            name: "RedMLHTTP",
            dependencies: [
                "RedMLCore",
                "RedMLPersistence",
                "RedMLRegistry",
                "RedMLQueue",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The HTTP/1 channel's configuration (its idle timeout).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("openapi.yaml")]
        ),
        // PostgresMLPersistence on PostgresNIO's PostgresClient.
        .target(
            name: "RedMLPostgres",
            dependencies: [
                "RedMLCore",
                "RedMLPersistence",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // One conformance suite that every backend must pass.
        .target(name: "RedMLTesting", dependencies: ["RedMLPersistence"]),
        // The backend fixtures every test target runs its suites against.
        .target(
            name: "RedMLTestFixtures",
            dependencies: [
                "RedML", "RedMLTesting", "RedMLPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The umbrella module.
        .target(name: "RedML", dependencies: ["RedMLCore", "RedMLPersistence", "RedMLSQLite", "RedMLRegistry", "RedMLQueue"]),
        // `swift run -c release redml-bench persistence`
        .executableTarget(
            name: "RedMLBench",
            dependencies: [
                "RedML",
                "RedMLHTTP",
                "RedMLPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The `redml` operator command, one file per subcommand.
        .executableTarget(
            name: "RedMLCLI",
            dependencies: [
                "RedML",
                "RedMLRuntime",
                "RedMLTrainer",
                "RedMLHTTP",
                "RedMLPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A child process the crash and multi-process tests start and kill.
        .executableTarget(name: "RedMLTestAgent", dependencies: ["RedML"]),
        .testTarget(
            name: "RedMLPersistenceTests",
            dependencies: ["RedML", "RedMLTesting", "RedMLTestFixtures"]
        ),
        .testTarget(
            name: "RedMLSQLiteTests",
            dependencies: ["RedML", "RedMLTesting", "RedMLTestAgent"]
        ),
        .testTarget(
            name: "RedMLRegistryTests",
            dependencies: ["RedML", "RedMLTesting", "RedMLTestFixtures", "RedMLTestAgent"]
        ),
        .testTarget(
            name: "RedMLQueueTests",
            dependencies: ["RedML", "RedMLTesting", "RedMLTestFixtures"]
        ),
        .testTarget(
            name: "RedMLRuntimeTests",
            dependencies: [
                "RedML", "RedMLRuntime", "RedMLTesting", "RedMLTestFixtures",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "RedMLTrainerTests",
            dependencies: ["RedML", "RedMLTrainer", "RedMLTestFixtures"]
        ),
        .testTarget(
            name: "RedMLHTTPTests",
            dependencies: [
                "RedML", "RedMLHTTP", "RedMLRuntime", "RedMLTrainer", "RedMLTestFixtures",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // GettingStartedTests compiles the article's listing, which runs a ServiceGroup.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Needs a server: scripts/test starts a throwaway PostgreSQL and sets POSTGRES_URL.
        .testTarget(
            name: "RedMLPostgresTests",
            dependencies: [
                "RedML", "RedMLPostgres", "RedMLTesting", "RedMLTestFixtures", "RedMLTestAgent",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built `redml` binary as a child process.
        .testTarget(
            name: "RedMLCLITests",
            dependencies: [
                "RedML", "RedMLCore", "RedMLCLI", "RedMLTesting", "RedMLTestFixtures", "RedMLPostgres",
                // To build and inspect SQLite files that are not stores.
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
