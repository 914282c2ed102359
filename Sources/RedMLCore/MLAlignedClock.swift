import Synchronization

/// A clock that keeps to another machine's time: a base clock plus an offset
/// measured against that machine.
///
/// Processes on several machines that share a PostgreSQL store compare the
/// times they write (a lease written by one is judged expired by another),
/// and two machines' clocks can disagree by more than a lease lasts. Each
/// process therefore keeps to the server's clock: ``MLJobQueue`` measures the
/// offset against the store's server when its store has one, and this clock
/// adds it. Until then, and on any other store, it reads the base clock.
public final class MLAlignedClock: MLClock {
    /// The local clock it reads.
    public let base: any MLClock
    private let offset = Mutex<Int64>(0)

    /// A clock that reads `base` until ``align(remoteNowMs:sentAtMs:receivedAtMs:)`` sets an offset.
    public init(base: any MLClock = MLSystemClock()) {
        self.base = base
    }

    /// Milliseconds since 1970-01-01 UTC by the other machine's clock (once aligned).
    public var nowMs: Int64 { base.nowMs &+ offsetMs }

    /// What this clock adds to the base clock's time, in milliseconds.
    public var offsetMs: Int64 { offset.withLock { $0 } }

    /// Suspends for `duration` of the base clock (an offset does not change how long time takes).
    public func sleep(for duration: Duration) async throws {
        try await base.sleep(for: duration)
    }

    /// Sets the offset from one reading of the other clock, `remoteNowMs`,
    /// taken between `sentAtMs` and `receivedAtMs` of the base clock, and
    /// taken to be at their midpoint. Returns the new offset.
    @discardableResult
    public func align(remoteNowMs: Int64, sentAtMs: Int64, receivedAtMs: Int64) -> Int64 {
        let midpoint = sentAtMs + (receivedAtMs - sentAtMs) / 2
        let newOffset = remoteNowMs &- midpoint
        offset.withLock { $0 = newOffset }
        return newOffset
    }
}
