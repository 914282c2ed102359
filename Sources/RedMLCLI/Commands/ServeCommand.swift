import ArgumentParser
import Foundation
import Logging
import NIOCore
import Prometheus
import RedML
import RedMLHTTP
import RedMLRuntime
import ServiceLifecycle

/// `redml serve`: the HTTP API plus a worker pool.
struct ServeCommand: AsyncParsableCommand {
    /// The environment variable read when `--token` is not given.
    static let tokenVariable = "REDML_TOKEN"

    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (/v1, /healthz, /readyz, /metrics, /openapi.yaml) and run jobs until SIGTERM or SIGINT.",
        discussion: """
            With a token (--token or $REDML_TOKEN) every route but /healthz and /readyz needs \
            `Authorization: Bearer TOKEN`. Without one, serve listens only on a loopback address. \
            --workers 0 serves the API without running jobs (run `redml worker` elsewhere). \
            On SIGTERM or SIGINT /readyz answers 503 while running jobs finish or checkpoint; \
            the rest of the API keeps answering until they have.
            """
    )

    /// The store options.
    @OptionGroup var options: StoreOptions

    /// The address to listen on.
    @Option(help: ArgumentHelp("The address to listen on.", valueName: "host"))
    var host = "127.0.0.1"

    /// The port to listen on.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("The port to listen on (0 picks a free one).", valueName: "port"))
    var port = 8080

    /// Jobs run at once.
    @Option(help: ArgumentHelp("Jobs run at once; 0 runs none. Default: the core count minus one, at least 1.",
                               valueName: "n"))
    var workers: Int?

    /// The bearer token.
    @Option(help: ArgumentHelp("The bearer token every route but /healthz and /readyz requires. Default: $\(tokenVariable).",
                               valueName: "token"))
    var token: String?

    /// Validates the options before anything is opened.
    func validate() throws {
        if let workers, !(0...256).contains(workers) {
            throw ValidationError("--workers must be 0…256, got \(workers)")
        }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0…65535, got \(port)") }
        // Empty, it would be reported as a non-loopback address that needs a token, or a name that does not resolve.
        guard !host.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--host is empty; pass an address such as 127.0.0.1, ::1 or 0.0.0.0")
        }
    }

    /// What `--json` prints once the server listens.
    private struct Listening: Encodable {
        var listening = true
        var url: String
        var host: String
        var port: Int?
    }

    /// Serves until a signal stops it.
    func run() async throws {
        let logger = CLIRuntime.logger("redml.serve", default: .info)
        let token = resolvedToken
        do {
            try MLHTTPBinding.validate(host: host, token: token)
        } catch {
            throw CLIError(error.message)
        }
        try await options.withStore(create: true) { opened in
            let prometheus = PrometheusCollectorRegistry()
            let runtime = CLIRuntime.make(
                store: opened.store, workers: workers, logger: logger,
                metricsFactory: PrometheusMetricsFactory(registry: prometheus))
            var configuration = MLHTTPAPI.Configuration()
            configuration.token = token
            let api = MLHTTPAPI(registry: runtime.registry, queue: runtime.queue, prometheus: prometheus,
                                configuration: configuration, logger: logger)
            let (host, json) = (host, options.json)
            let app = try api.makeApplication(host: host, port: port) { port in
                // One line on stdout that scripts can wait for (with --port 0, it names the port taken).
                let url = "http://\(Self.address(host, port.map(String.init) ?? "?"))"
                if json {
                    try? Console.json(Listening(url: url, host: host, port: port))
                } else {
                    Console.line("redml serve: listening on \(url)")
                }
            }
            // Shut down last listed first: /readyz turns to 503, the workers drain while the API still
            // answers (health checks, job events, cancels), then the listener closes.
            let services: [any Service] = [
                SecondSignalExit(logger: logger), app, runtime, MLHTTPDrainOnShutdown(api.readiness),
            ]
            var groupConfiguration = ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            // A safety net: a request that never ends (a stalled upload, say) would otherwise hold the
            // shutdown forever. Running jobs get their own grace period first, well within this.
            groupConfiguration.maximumGracefulShutdownDuration = .seconds(60)
            do {
                try await ServiceGroup(configuration: groupConfiguration).run()
            } catch let error as IOError {
                // Binding the listening socket is the one socket call the command itself makes.
                throw Self.listenFailure(error, host: host, port: port)
            } catch is SocketAddressError.UnknownHost {
                throw CLIError("cannot listen on \(Self.address(host, port)): the host name \(host) does not resolve; "
                               + "check --host")
            }
        }
    }

    /// `host:port`, with an IPv6 address in brackets as URLs write it.
    static func address(_ host: String, _ port: some CustomStringConvertible) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// What to say when the listening socket could not be set up: the address, and what to do.
    static func listenFailure(_ error: IOError, host: String, port: Int) -> CLIError {
        let address = address(host, port)
        switch error.errnoCode {
        case EADDRINUSE:
            return CLIError("cannot listen on \(address): the address is already in use; stop what listens there, "
                            + "or pass another --port (0 picks a free one)")
        case EACCES:
            return CLIError("cannot listen on \(address): permission denied; ports below 1024 need privileges, "
                            + "pass --port 1024 or above")
        case EADDRNOTAVAIL:
            return CLIError("cannot listen on \(address): no network interface of this machine has that address; "
                            + "check --host")
        default:
            return CLIError("cannot listen on \(address): \(String(cString: strerror(error.errnoCode)))")
        }
    }

    /// `--token`, else `REDML_TOKEN`; empty means none.
    private var resolvedToken: String? {
        let value = token ?? ProcessInfo.processInfo.environment[Self.tokenVariable]
        return value?.isEmpty == false ? value : nil
    }
}
