import Foundation
import Synchronization

/// Shows how far a long task has come: a single redrawn bar on a terminal,
/// or one plain line per change when stdout is a file or a pipe.
///
/// On a terminal the bar is redrawn in place with a carriage return, so a
/// long job never floods the screen; elsewhere each change of status or whole
/// percent gives one line without any control characters, which logs and
/// scripts can read.
///
/// ```swift
/// let display = ProgressDisplay()
/// display.start("train iris")
/// display.update(progress: 40, status: "running")
/// display.finish("completed in 12s")
/// ```
final class ProgressDisplay: Sendable {
    /// How the display draws.
    enum Style: Sendable {
        /// One bar, redrawn in place with `\r`.
        case redrawn
        /// One plain line per change.
        case lines
    }

    private struct State {
        var title = ""
        var started: ContinuousClock.Instant?
        /// The last moment progress was still 0: the work began after it, so the
        /// ETA is not skewed by time spent waiting in a queue.
        var workStarted: ContinuousClock.Instant?
        var lastPercent: Int?
        var lastStatus: String?
        /// Width of the last bar drawn, so a shorter redraw blanks what is left of it.
        var drawnWidth = 0
    }

    /// How it draws.
    let style: Style
    /// The terminal's width: a redrawn line longer than this would wrap, and
    /// `\r` would then redraw only its last row.
    let columns: Int
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())

    /// Width of the bar between the brackets, in characters.
    static let barWidth = 24

    /// A display on stdout: redrawn when stdout is a terminal, else plain lines.
    convenience init() {
        self.init(
            style: Console.stdoutIsTerminal ? .redrawn : .lines, columns: Console.terminalColumns,
            write: { Console.write($0) })
    }

    /// A display with its own output and clock (the clock gives elapsed time and the ETA).
    init(
        style: Style, columns: Int = 80, write: @escaping @Sendable (String) -> Void,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.style = style
        self.columns = max(20, columns)
        self.write = write
        self.now = now
    }

    /// Starts timing and shows `title`. Says "watching", not "started": the
    /// job may still be queued, or already over.
    func start(_ title: String) {
        let title = DisplayText.oneLine(title)
        let instant = now()
        state.withLock { $0 = State(title: title, started: instant, workStarted: instant) }
        switch style {
        case .redrawn: draw(progress: 0, status: "watching")
        case .lines: write("\(title): watching\n")
        }
    }

    /// Shows `progress` (percent, 0–100, clamped) and `status` such as `running`.
    ///
    /// In ``Style/redrawn`` every call redraws, so calling it periodically keeps
    /// the elapsed time and ETA current; in ``Style/lines`` it prints only when
    /// the status or the whole percent changed.
    func update(progress: Double, status: String) {
        let percent = Self.clamp(progress)
        let status = DisplayText.oneLine(status)
        if percent == 0 {
            let instant = now()
            state.withLock { $0.workStarted = instant }
        }
        switch style {
        case .redrawn:
            draw(progress: percent, status: status)
        case .lines:
            let line: String? = state.withLock { state in
                let whole = Int(percent.rounded(.down))
                guard whole != state.lastPercent || status != state.lastStatus else { return nil }
                state.lastPercent = whole
                state.lastStatus = status
                let elapsed = state.started.map { now() - $0 } ?? .zero
                return "\(state.title): \(status) \(whole)% (elapsed \(DisplayText.duration(elapsed)))"
            }
            if let line { write(line + "\n") }
        }
    }

    /// Ends the display with `message` on its own line (after the bar, on a terminal).
    func finish(_ message: String) {
        let message = DisplayText.oneLine(message)
        let (title, elapsed, width) = state.withLock { state in
            (state.title, state.started.map { now() - $0 } ?? .zero, state.drawnWidth)
        }
        let line = "\(title): \(message) (\(DisplayText.duration(elapsed)))"
        switch style {
        case .redrawn:
            // Blank what is left of the bar; the message itself may wrap, as it ends the display.
            let padding = String(repeating: " ", count: max(0, width - line.count))
            write("\r" + line + padding + "\n")
        case .lines:
            write(line + "\n")
        }
    }

    /// Redraws the bar over the previous one.
    private func draw(progress: Double, status: String) {
        let text: String = state.withLock { state in
            let instant = now()
            let elapsed = state.started.map { instant - $0 } ?? .zero
            let working = state.workStarted.map { instant - $0 } ?? elapsed
            // One column short of the width, so the cursor never wraps to a new row.
            let line = String(
                Self.bar(title: state.title, progress: progress, status: status, elapsed: elapsed, working: working)
                    .prefix(columns - 1))
            let padding = String(repeating: " ", count: max(0, state.drawnWidth - line.count))
            state.drawnWidth = line.count + padding.count  // what is on screen now
            return "\r" + line + padding
        }
        write(text)
    }

    /// One bar: `title [##########..............]  42.0%  0:12  eta 0:17  running`.
    ///
    /// - Parameters:
    ///   - elapsed: the time since ``start(_:)``, shown.
    ///   - working: the time since progress left 0, from which the ETA is estimated.
    static func bar(title: String, progress: Double, status: String, elapsed: Duration, working: Duration) -> String {
        let filled = Int((progress / 100 * Double(barWidth)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled)
        let percent = String(format: "%5.1f%%", progress)
        let eta = estimatedRemaining(progress: progress, elapsed: working).map(DisplayText.duration) ?? "--:--"
        let shortTitle = title.count > 24 ? String(title.prefix(23)) + "…" : title
        return "\(shortTitle) [\(bar)] \(percent)  \(DisplayText.duration(elapsed))  eta \(eta)  \(status)"
    }

    /// The time left if the rest goes as fast as what is done; `nil` before any progress.
    static func estimatedRemaining(progress: Double, elapsed: Duration) -> Duration? {
        guard progress > 0 else { return nil }
        guard progress < 100 else { return .zero }
        return elapsed * ((100 - progress) / progress)
    }

    private static func clamp(_ progress: Double) -> Double {
        progress.isFinite ? min(100, max(0, progress)) : 0
    }
}
