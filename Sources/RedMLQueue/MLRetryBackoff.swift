/// How long a failed job waits before its next attempt: exponential, capped, with jitter.
public struct MLRetryBackoff: Hashable, Sendable {
    /// The wait after the first failure. Default: 1 s.
    public var base: Duration
    /// The longest wait. Default: 1 hour.
    public var maximum: Duration
    /// The wait varies randomly by up to this fraction either way, so that
    /// jobs that failed together do not all retry together. Default: 0.2.
    public var jitter: Double

    /// Creates a policy.
    public init(base: Duration = .seconds(1), maximum: Duration = .seconds(3_600), jitter: Double = 0.2) {
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The wait, in milliseconds, after the `failures`-th failure (from 1).
    public func delayMs(afterFailures failures: Int) -> Int64 {
        let baseMs = Double(base.components.seconds) * 1000 + Double(base.components.attoseconds) / 1e15
        let maximumMs = Double(maximum.components.seconds) * 1000 + Double(maximum.components.attoseconds) / 1e15
        let exponential = min(maximumMs, baseMs * pow2(max(0, failures - 1)))
        let spread = max(0, min(1, jitter))
        let factor = spread == 0 ? 1 : Double.random(in: (1 - spread)...(1 + spread))
        return Int64(min(maximumMs, exponential * factor).rounded())
    }

    private func pow2(_ exponent: Int) -> Double {
        exponent >= 62 ? Double.greatestFiniteMagnitude : Double(1 << exponent)
    }
}
