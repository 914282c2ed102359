import Foundation
import Synchronization
import Testing

@testable import RedMLCLI

@Suite("ProgressDisplay")
struct ProgressDisplayTests {
    /// Collects what a display writes, and a clock the test moves.
    final class Recorder: Sendable {
        private let state = Mutex<(output: String, offset: Duration)>(("", .zero))
        private let origin = ContinuousClock.now

        var output: String { state.withLock { $0.output } }
        func write(_ text: String) { state.withLock { $0.output += text } }
        func advance(_ duration: Duration) { state.withLock { $0.offset += duration } }
        func now() -> ContinuousClock.Instant { origin + state.withLock { $0.offset } }

        func display(_ style: ProgressDisplay.Style) -> ProgressDisplay {
            ProgressDisplay(style: style, columns: 100, write: { self.write($0) }, now: { self.now() })
        }
    }

    @Test("without a terminal: one plain line per change of status or whole percent")
    func lines() {
        let recorder = Recorder()
        let display = recorder.display(.lines)
        display.start("train iris")
        display.update(progress: 0, status: "queued")
        display.update(progress: 0, status: "queued")
        recorder.advance(.seconds(5))
        display.update(progress: 10.2, status: "running")
        display.update(progress: 10.7, status: "running")
        display.update(progress: 50, status: "running\u{1B}[2J")
        display.finish("completed")
        #expect(recorder.output.split(separator: "\n") == [
            "train iris: watching",
            "train iris: queued 0% (elapsed 0:00)",
            "train iris: running 10% (elapsed 0:05)",
            "train iris: running [2J 50% (elapsed 0:05)",
            "train iris: completed (0:05)",
        ])
    }

    @Test("on a terminal: one bar redrawn with carriage returns, with elapsed time and ETA, one newline at the end")
    func redrawn() {
        let recorder = Recorder()
        let display = recorder.display(.redrawn)
        display.start("train iris")
        recorder.advance(.seconds(10))
        display.update(progress: 25, status: "running")
        display.update(progress: 50, status: "ok")
        display.finish("completed")
        let output = recorder.output
        #expect(output.filter { $0 == "\n" }.count == 1)
        #expect(output.hasSuffix("\n"))
        let frames = output.dropLast().split(separator: "\r")
        #expect(frames.count == 4)
        #expect(frames[1].hasPrefix("train iris [######..................]  25.0%  0:10  eta 0:30  running"))
        #expect(frames[2].hasPrefix("train iris [############............]  50.0%  0:10  eta 0:10  ok"))
        // The shorter status is padded to blank the longer one drawn before.
        #expect(frames[2].count == frames[1].count)
        #expect(frames[3].hasPrefix("train iris: completed (0:10)"))
        #expect(frames.allSatisfy { $0.count < 100 })
    }

    @Test("the ETA counts from when progress left 0, not from time spent waiting")
    func etaAfterWaiting() {
        let recorder = Recorder()
        let display = recorder.display(.redrawn)
        display.start("train iris")
        recorder.advance(.seconds(100))
        display.update(progress: 0, status: "queued")
        recorder.advance(.seconds(10))
        display.update(progress: 25, status: "running")
        let frames = recorder.output.split(separator: "\r")
        #expect(frames.last?.hasPrefix("train iris [######..................]  25.0%  1:50  eta 0:30  running") == true,
                "\(frames)")
    }

    @Test("the ETA assumes the rest goes as fast as what is done")
    func estimate() {
        #expect(ProgressDisplay.estimatedRemaining(progress: 0, elapsed: .seconds(3)) == nil)
        #expect(ProgressDisplay.estimatedRemaining(progress: 20, elapsed: .seconds(10)) == .seconds(40))
        #expect(ProgressDisplay.estimatedRemaining(progress: 100, elapsed: .seconds(10)) == .zero)
    }
}
