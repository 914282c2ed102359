import Synchronization

/// Something that happened to a running program, in the order it was noticed.
enum ProgramEvent: Sendable {
    /// A line the program wrote on stdout.
    case line(OutputLine)
    /// Its stdout reached end of file.
    case stdoutClosed
    /// Its stderr reached end of file; the last bytes it wrote there.
    case stderrClosed(tail: [UInt8])
    /// The program exited (it is a zombie until reaped).
    case exited
    /// The handler's task was cancelled.
    case cancelled
    /// The grace period after SIGTERM is over.
    case killDue
    /// The grace period for closing stdout and stderr after the exit is over.
    case drainDue
}

/// A line of stdout, cut at the configured length.
struct OutputLine: Sendable, Equatable {
    /// The text, without its line break.
    var text: String
    /// Whether the line was longer than the limit and lost its end.
    var truncated: Bool
}

/// The events of one program run: posted by its reader threads, timers and
/// cancellation handler, consumed in order by the one task running the job.
///
/// ``next()`` ignores task cancellation on purpose: a cancelled job still
/// waits for its program to be gone.
final class ProgramEvents: Sendable {
    private struct State {
        var events: [ProgramEvent] = []
        var head = 0
        var waiter: CheckedContinuation<ProgramEvent, Never>?
    }

    private let state = Mutex(State())

    /// Adds an event, waking the consumer if it waits.
    func post(_ event: ProgramEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<ProgramEvent, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.events.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// The next event, waiting for one if there is none (one consumer only).
    func next() async -> ProgramEvent {
        await withCheckedContinuation { continuation in
            let event = state.withLock { state -> ProgramEvent? in
                guard state.head < state.events.count else {
                    state.waiter = continuation
                    return nil
                }
                let event = state.events[state.head]
                state.head += 1
                // Drop consumed events now and then, so a long run's buffer does not grow forever.
                if state.head >= 1_024 && state.head * 2 >= state.events.count {
                    state.events.removeFirst(state.head)
                    state.head = 0
                }
                return event
            }
            if let event { continuation.resume(returning: event) }
        }
    }
}
