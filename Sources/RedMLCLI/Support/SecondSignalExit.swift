import Foundation
import Logging
import RedMLRuntime
import ServiceLifecycle
import UnixSignals

/// Ends the process at once on a second SIGTERM or SIGINT.
///
/// The first one starts the service group's graceful shutdown, which gives
/// running jobs their grace period and open requests their time; an operator
/// who will not wait (a stuck client, a handler that ignores its stop) sends
/// another, as with most servers' second Ctrl-C. Nothing acknowledged is lost:
/// every acknowledged write is already durable, and the jobs this process was
/// running go back to the queue when their leases expire. The programs its
/// `--exec` handlers run are killed first, so none overlaps with its retry.
///
/// List it first among the group's services: the group shuts services down in
/// reverse order, so this one keeps watching until every other has stopped.
struct SecondSignalExit: Service {
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        var seen = 0
        for await signal in signals.cancelOnGracefulShutdown() {
            seen += 1
            guard seen >= 2 else { continue }  // the group's own trap starts the graceful shutdown
            // Programs that --exec handlers run are process groups of their own: without this they
            // would outlive the worker and overlap with their jobs' retries.
            let killed = MLExternalHandler.killRunningPrograms()
            logger.warning("second signal: exiting without waiting for shutdown to finish",
                           metadata: ["signal": "\(signal)", "programs_killed": "\(killed)"])
            exit(128 + signal.rawValue)
        }
    }
}
