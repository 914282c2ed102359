import Foundation
import Logging
import RedMLCore
import RedMLQueue

/// Serves a job kind with any program, so teams that do not write Swift can
/// run jobs: `redml worker --exec train="python3 train.py"`.
///
/// ```swift
/// let (kind, command) = try MLExternalHandler.parse("train=python3 train.py")
/// workers.register(kind, try MLExternalHandler(command: command).handler())
/// ```
///
/// ## The protocol
///
/// Each attempt of a job starts the command once, as `/bin/sh -c COMMAND`
/// (see ``Configuration/shell``), in a process group of its own.
///
/// **Input.** Its stdin carries the job's spec as one compact JSON object
/// followed by a newline, then end of file. Its environment is this
/// process's, plus ``Configuration/environment``, plus:
///
/// | Variable | Value |
/// |---|---|
/// | `REDML_JOB_ID` | the job id, 32 lowercase hex digits |
/// | `REDML_JOB_KIND` | the job kind, such as `train` |
/// | `REDML_JOB_TARGET` | the model, feature or column the job changes |
/// | `REDML_JOB_ATTEMPT` | this attempt's number, from 1 |
/// | `REDML_JOB_CHECKPOINT` | the last checkpoint saved by any attempt, as compact JSON; empty when there is none |
///
/// **Output.** It reports on stdout, one line each (blanks around a line are ignored):
///
/// - `progress 40`: a number from 0 to 100 (out-of-range values are clamped)
///   becomes the job's progress.
/// - `checkpoint {"epoch": 3}`: a JSON object on the same line, saved on the
///   job (and the lease renewed) before the next line is read. A later
///   attempt gets it in `REDML_JOB_CHECKPOINT`. If the job was asked to stop,
///   the program is stopped (see below).
/// - Any other line is ignored, except the **last** one: when the program
///   exits with status 0, its last non-empty stdout line that is not a
///   `progress` or `checkpoint` line must be a JSON object: the job's
///   metrics. A program that writes no such line completes with `{}`.
///
/// A malformed `progress` or `checkpoint` line, or a last line that is not
/// a JSON object, fails the attempt with a message quoting the line. Lines
/// longer than ``Configuration/maxLineBytes`` are cut, which only matters
/// for a checkpoint or the metrics line (both then fail).
///
/// stderr is free for logs; its last ``Configuration/stderrTailBytes`` are
/// kept for the failure message.
///
/// **Exit.** Status 0 completes the attempt with the metrics. A non-zero
/// status, or death by a signal, fails it with the message
/// `command exited with status N: <stderr tail>` (or `command was killed by
/// signal N: …`), the tail's lines joined with ` | `; the job is retried
/// while it has attempts left.
///
/// **Stopping.** When the job is cancelled, times out, or the workers shut
/// down past their grace period, the program's process group gets SIGTERM,
/// then SIGKILL after ``Configuration/terminationGracePeriod``. Checkpoint
/// lines written meanwhile are still saved, so a program can save its state
/// on SIGTERM and resume from it on the next attempt. The attempt ends once
/// the program is gone. If processes the program started keep its stdout or
/// stderr open after it exited, its group gets SIGKILL after the grace
/// period, and the run stops waiting for that output after one more.
public struct MLExternalHandler: Sendable {
    /// How the program is started and stopped, each with a documented default.
    public struct Configuration: Sendable {
        /// The program that runs the command, and its arguments before the
        /// command. The first is looked up in `PATH` unless it contains a
        /// `/`. Default: `["/bin/sh", "-c"]`.
        public var shell: [String] = ["/bin/sh", "-c"]
        /// The directory the program starts in. Default: `nil`, this process's current directory.
        public var workingDirectory: String?
        /// Variables added to the inherited environment (the `REDML_JOB_*`
        /// variables still take precedence). Default: none.
        public var environment: [String: String] = [:]
        /// How long a program has to exit after SIGTERM before it gets
        /// SIGKILL. Default: 5 s.
        public var terminationGracePeriod: Duration = .seconds(5)
        /// How much of the end of stderr a failure message quotes. Default: 4 KiB.
        public var stderrTailBytes = 4_096
        /// The longest stdout line kept whole. Default: 1 MiB.
        public var maxLineBytes = 1_048_576
        /// Where starts, stops and kills are logged. Default: discards everything.
        public var logger = Logger(label: "redml.external", factory: { _ in SwiftLogNoOpLogHandler() })

        /// The defaults.
        public init() {}

        static func milliseconds(_ duration: Duration) -> Int {
            Int(max(0, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000))
        }
    }

    /// The command the shell runs for each job.
    public let command: String
    /// How it is run.
    public let configuration: Configuration

    /// Kills (SIGKILL) the process group of every program that external
    /// handlers in this process are running; returns how many it killed.
    ///
    /// Call it in a process about to exit without a graceful shutdown (an
    /// operator's second SIGTERM, say). Each program runs in a process group
    /// of its own, so it would outlive the process, and once its job's lease
    /// expired another worker's retry would run beside it. The jobs go back to
    /// the queue when their leases expire, as for any worker that stops at once.
    /// (A process killed with SIGKILL cannot do this: run workers under a
    /// supervisor that stops what they leave behind, such as systemd's default
    /// `KillMode=control-group`.)
    @discardableResult
    public static func killRunningPrograms() -> Int {
        ChildProcess.signalEveryGroup(SIGKILL)
    }

    /// Creates a handler that runs `command` for each job.
    ///
    /// - Throws: ``MLExternalHandlerError`` with code `empty_command` or
    ///   `invalid_configuration` (an empty shell, a negative grace period, a
    ///   limit below one byte).
    public init(command: String, configuration: Configuration = Configuration()) throws(MLExternalHandlerError) {
        guard !command.allSatisfy(\.isWhitespace) else {
            throw MLExternalHandlerError(code: .emptyCommand, message: "the command of an external handler must not be empty")
        }
        guard let program = configuration.shell.first, !program.isEmpty else {
            throw MLExternalHandlerError(
                code: .invalidConfiguration, message: "shell must name a program, like [\"/bin/sh\", \"-c\"], got \(configuration.shell)")
        }
        guard configuration.terminationGracePeriod >= .zero else {
            throw MLExternalHandlerError(
                code: .invalidConfiguration,
                message: "terminationGracePeriod must not be negative, got \(configuration.terminationGracePeriod)")
        }
        guard configuration.stderrTailBytes >= 1, configuration.maxLineBytes >= 1 else {
            throw MLExternalHandlerError(
                code: .invalidConfiguration,
                message: "stderrTailBytes and maxLineBytes must be at least 1, got \(configuration.stderrTailBytes) and \(configuration.maxLineBytes)")
        }
        self.command = command
        self.configuration = configuration
    }

    /// The handler to register with ``MLJobWorkers/register(_:_:)``: it runs
    /// the command once per attempt, following the protocol described on ``MLExternalHandler``.
    public func handler() -> MLJobWorkers.Handler {
        let command = command
        let configuration = configuration
        return { handle in
            try await Self.run(command, configuration: configuration, for: handle)
        }
    }

    private static func run(_ command: String, configuration: Configuration, for handle: MLJobHandle) async throws
        -> MLJSONObject
    {
        try Task.checkCancellation()
        var logger = configuration.logger
        logger[metadataKey: "job_id"] = "\(MLKey.job(handle.id))"
        logger[metadataKey: "job_kind"] = "\(handle.job.kind)"
        let child = try ChildProcess.spawn(
            arguments: configuration.shell + [command], environment: environment(configuration, handle),
            workingDirectory: configuration.workingDirectory)
        logger.debug("command started", metadata: ["pid": "\(child.pid)", "command": "\(command)"])
        let events = ProgramEvents()
        ProgramPumps.watchExit(of: child.pid, into: events)
        ProgramPumps.readLines(from: child.stdout, lineLimit: configuration.maxLineBytes, into: events)
        ProgramPumps.readTail(from: child.stderr, tailBytes: configuration.stderrTailBytes, into: events)
        ProgramPumps.feed(Array((MLJSONValue.object(handle.spec).jsonText + "\n").utf8), to: child.stdin)
        let run = ProgramRun(child: child, events: events, handle: handle, configuration: configuration, logger: logger)
        return try await withTaskCancellationHandler {
            try await run.run()
        } onCancel: {
            events.post(.cancelled)
        }
    }

    /// The inherited environment, the configured additions, then the job's variables.
    private static func environment(_ configuration: Configuration, _ handle: MLJobHandle) -> [String] {
        var variables = ProcessInfo.processInfo.environment
        variables.merge(configuration.environment) { _, added in added }
        variables["REDML_JOB_ID"] = MLKey.job(handle.id)
        variables["REDML_JOB_KIND"] = handle.job.kind.rawValue
        variables["REDML_JOB_TARGET"] = handle.job.target
        variables["REDML_JOB_ATTEMPT"] = String(handle.attempt)
        variables["REDML_JOB_CHECKPOINT"] = handle.checkpoint.map { MLJSONValue.object($0).jsonText } ?? ""
        return variables.map { "\($0.key)=\($0.value)" }
    }
}
