import Logging
import RedMLCore
import RedMLPersistence

extension MLJobQueue {
    /// Keeps this queue's clock to the clock of the store's server, when the
    /// clock is an ``MLAlignedClock`` (the default) and the store has a server
    /// clock (``MLServerClock``: PostgreSQL). Leases, schedules and timestamps
    /// written by processes on several machines then compare times from one
    /// clock, however far the machines' own clocks drift apart.
    ///
    /// Reads the server's time three times and keeps the reading with the
    /// shortest round trip. ``MLJobWorkers`` call it when they start and every
    /// minute after. An offset of a second or more is logged as a warning; the
    /// offset is the gauge `redml_clock_offset_milliseconds`.
    ///
    /// - Returns: the offset now added to the local clock, in milliseconds, or
    ///   `nil` when there is nothing to align.
    @discardableResult
    public func alignClock() async throws -> Int64? {
        guard let aligned = clock as? MLAlignedClock, let server = store as? any MLServerClock else { return nil }
        var best: (remote: Int64, sent: Int64, received: Int64)?
        for _ in 0..<3 {
            let sent = aligned.base.nowMs
            let remote = try await server.serverTimeMs()
            let received = aligned.base.nowMs
            if best == nil || received - sent < best!.received - best!.sent { best = (remote, sent, received) }
        }
        guard let best else { return nil }
        let offset = aligned.align(remoteNowMs: best.remote, sentAtMs: best.sent, receivedAtMs: best.received)
        metrics.clockAligned(offsetMs: offset)
        let metadata: Logger.Metadata = ["offset_ms": "\(offset)", "round_trip_ms": "\(best.received - best.sent)"]
        if abs(offset) >= 1_000 {
            logger.warning(
                "this machine's clock is off the store server's; the queue keeps to the server's", metadata: metadata)
        } else {
            logger.debug("kept the queue's clock to the store server's", metadata: metadata)
        }
        return offset
    }

    /// How often worker pools, and a runtime without them, keep the clock aligned: every minute.
    package static let clockAlignmentInterval: Duration = .seconds(60)

    /// ``alignClock()`` for a background loop: a failure is logged, and the last offset stays.
    package func alignClockLoggingFailure() async {
        do {
            try await alignClock()
        } catch {
            logger.warning("could not read the store server's clock; keeping the last offset",
                           metadata: ["error": "\(error)"])
        }
    }
}
