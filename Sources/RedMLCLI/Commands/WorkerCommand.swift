import ArgumentParser
import Logging
import RedML
import RedMLRuntime
import ServiceLifecycle

/// `redml worker`: a worker process without the HTTP API.
struct WorkerCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs from the store's queue until SIGTERM or SIGINT.",
        discussion: """
            Serves the built-in `train` kind, and any kind given with --exec KIND=COMMAND: the command \
            runs through /bin/sh -c once per job, with the job's spec on stdin and REDML_JOB_ID, \
            REDML_JOB_KIND, REDML_JOB_TARGET, REDML_JOB_ATTEMPT and REDML_JOB_CHECKPOINT in its \
            environment. It reports `progress N` and `checkpoint {json}` lines on stdout; its last \
            stdout line is the metrics JSON; a non-zero exit fails the job with its stderr tail. \
            On SIGTERM or SIGINT the worker stops claiming, gives running jobs the grace period to \
            finish, and puts the rest back in the queue with their checkpoints.
            """
    )

    /// The store options.
    @OptionGroup var options: StoreOptions

    /// How many jobs run at once, per queue.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Jobs run at once per queue. Default: the core count minus one, at least 1.", valueName: "n"))
    var workers: Int?

    /// The queues to serve.
    @Option(name: .customLong("queue"), help: ArgumentHelp(
        "A queue to take jobs from; repeat for several. Default: default.", valueName: "queue"))
    var queues: [String] = []

    /// The lease heartbeat, in seconds.
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Seconds between lease renewals; a lease lasts two, and a dead worker's jobs are requeued "
            + "within about two more. Default: 2.", valueName: "seconds"))
    var heartbeat: Double?

    /// External handlers.
    @Option(name: .customLong("exec"), help: ArgumentHelp(
        "Serve jobs of KIND by running COMMAND; repeat for several kinds.", valueName: "KIND=COMMAND"))
    var exec: [String] = []

    /// Validates the options before anything is opened.
    func validate() throws {
        if let workers, !(1...256).contains(workers) {
            throw ValidationError("--workers must be 1…256, got \(workers)")
        }
        if let heartbeat, !(0.05...3_600).contains(heartbeat) {
            throw ValidationError("--heartbeat must be 0.05…3600 seconds, got \(heartbeat)")
        }
        for queue in queues {
            do {
                try MLJobSubmission.validateQueueName(queue)
            } catch {
                throw ValidationError("--queue: \(error.message)")
            }
        }
        var kinds: Set<String> = []
        for argument in exec {
            let kind: MLJob.Kind
            do {
                kind = try MLExternalHandler.parse(argument).kind
            } catch {
                throw ValidationError("--exec \(argument): \(error); write it as KIND=COMMAND, for example --exec 'score=python3 score.py'")
            }
            // Two commands for one kind: which would run is not obvious, so say so now.
            guard kinds.insert(kind.rawValue).inserted else {
                throw ValidationError("--exec names kind '\(kind.rawValue)' twice; give each kind one command")
            }
        }
    }

    /// Runs the workers until a signal stops them.
    func run() async throws {
        let logger = CLIRuntime.logger("redml.worker", default: .info)
        var configuration = MLExternalHandler.Configuration()
        configuration.logger = logger
        let handlers = try exec.map { argument in
            do {
                let (kind, command) = try MLExternalHandler.parse(argument)
                return (kind: kind, handler: try MLExternalHandler(command: command, configuration: configuration))
            } catch {
                throw CLIError("--exec \(argument): \(error); write it as KIND=COMMAND, for example --exec 'score=python3 score.py'")
            }
        }
        try await options.withStore(create: true) { opened in
            let runtime = CLIRuntime.make(
                store: opened.store, workers: workers, queues: queues,
                heartbeat: heartbeat.map { .milliseconds(Int64(($0 * 1000).rounded())) }, logger: logger)
            for (kind, handler) in handlers {
                runtime.register(kind, handler.handler())
            }
            logger.info("worker started", metadata: [
                "store": "\(opened.location)", "queues": "\(queues.isEmpty ? ["default"] : queues)",
                "kinds": "\(Set(["train"] + handlers.map(\.kind.rawValue)).sorted().joined(separator: ","))",
            ])
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [SecondSignalExit(logger: logger), runtime], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            try await group.run()
        }
    }
}
