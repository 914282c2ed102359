#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Logging
import RedMLCore
import RedMLQueue

/// One run of an external program for one job attempt: follows its events
/// until it has exited and closed its output, acting on protocol lines and
/// stopping it when asked. Used by the one task that runs the job.
final class ProgramRun {
    /// Why the run is stopping the program before it finished on its own.
    private enum Stop {
        /// The job was cancelled or interrupted.
        case cancelled
        /// The program broke the protocol, or a checkpoint could not be saved.
        case failed(any Error)
    }

    let child: ChildProcess
    let events: ProgramEvents
    let handle: MLJobHandle
    let configuration: MLExternalHandler.Configuration
    let logger: Logger

    private var stop: Stop?
    private var exited = false
    private var stdoutOpen = true
    private var stderrOpen = true
    private var killedAfterExit = false
    private var abandonedOutput = false
    private var stderrTail: [UInt8] = []
    private var lastText: OutputLine?

    init(child: ChildProcess, events: ProgramEvents, handle: MLJobHandle, configuration: MLExternalHandler.Configuration,
         logger: Logger) {
        self.child = child
        self.events = events
        self.handle = handle
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs to the end; returns the metrics, or throws `MLJobFailure`, the
    /// checkpoint's error, or `CancellationError`.
    func run() async throws -> MLJSONObject {
        while !(exited && ((!stdoutOpen && !stderrOpen) || abandonedOutput)) {
            switch await events.next() {
            case .line(let line): await process(line)
            case .stdoutClosed: stdoutOpen = false
            case .stderrClosed(let tail):
                stderrOpen = false
                stderrTail = tail
            case .exited:
                exited = true
                if stdoutOpen || stderrOpen { schedule(.drainDue) }
            case .cancelled: stopProgram(.cancelled)
            case .killDue:
                if !exited {
                    logger.warning("command did not stop within the grace period after SIGTERM; sending SIGKILL")
                    child.signalGroup(SIGKILL)
                }
            case .drainDue: drainDue()
            }
        }
        let termination = child.reap()
        logger.debug("command ended", metadata: ["termination": "\(termination)"])
        switch stop {
        case .cancelled?: throw CancellationError()
        case .failed(let error)?: throw error
        case nil: break
        }
        guard termination == .exited(0) else { throw MLJobFailure(failureMessage(termination)) }
        return try ProgramLine.metrics(from: lastText, lineLimit: configuration.maxLineBytes)
    }

    private func process(_ line: OutputLine) async {
        if stop == nil && (handle.isCancelled || Task.isCancelled) { stopProgram(.cancelled) }
        let parsed: ProgramLine
        do {
            parsed = try ProgramLine.parse(line, lineLimit: configuration.maxLineBytes)
        } catch {
            if stop == nil { stopProgram(.failed(error)) }
            return
        }
        switch (parsed, stop) {
        case (.progress(let value), nil):
            handle.setProgress(value)
        case (.checkpoint(let state), nil):
            do {
                if try await handle.checkpoint(state) { stopProgram(.cancelled) }
            } catch {
                stopProgram(Task.isCancelled ? .cancelled : .failed(error))
            }
        case (.checkpoint(let state), .cancelled?):
            // A program that saves its state on SIGTERM should find it on the next attempt.
            do {
                try await handle.checkpoint(state)
            } catch {
                logger.debug("could not save the checkpoint written after the stop request", metadata: ["error": "\(error)"])
            }
        case (.text(let text), nil):
            lastText = text
        default:
            break
        }
    }

    /// Asks the program to stop: SIGTERM to its group now, SIGKILL after the grace period.
    private func stopProgram(_ reason: Stop) {
        guard stop == nil else { return }
        stop = reason
        guard !exited else { return }
        logger.debug("stopping the command", metadata: ["reason": "\(reason)"])
        child.signalGroup(SIGTERM)
        schedule(.killDue)
    }

    /// The program exited but something it started still holds stdout or
    /// stderr: kill its group, and if even that does not close them, stop waiting.
    private func drainDue() {
        guard stdoutOpen || stderrOpen else { return }
        if killedAfterExit {
            logger.warning("the command's output is still open after its exit; ignoring the rest")
            abandonedOutput = true
        } else {
            logger.warning("processes the command started keep its output open after its exit; sending SIGKILL to its group")
            child.signalGroup(SIGKILL)
            killedAfterExit = true
            schedule(.drainDue)
        }
    }

    private func schedule(_ event: ProgramEvent) {
        let events = events
        let milliseconds = MLExternalHandler.Configuration.milliseconds(configuration.terminationGracePeriod)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { events.post(event) }
    }

    private func failureMessage(_ termination: ChildProcess.Termination) -> String {
        let what = switch termination {
        case .exited(let status): "command exited with status \(status)"
        case .signaled(let signal): "command was killed by signal \(signal)"
        case .unknown: "command's exit status was lost (is SIGCHLD ignored in this process?)"
        }
        let tail = Self.oneLine(stderrTail)
        return tail.isEmpty ? what : "\(what): \(tail)"
    }

    /// The stderr tail as one line: its non-blank lines, trimmed, joined with ` | `.
    static func oneLine(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " | ")
    }
}
