import Foundation
import RedML
import Testing

/// The test harness itself: finding the agent and driving child processes.
@Suite("Agent harness")
struct HarnessTests {
    @Test("the RedMLTestAgent executable is found next to the test runner")
    func locatesAgent() throws {
        let url = try Agent.url()
        #expect(url.lastPathComponent == "RedMLTestAgent")
        #expect(FileManager.default.isExecutableFile(atPath: url.path))
    }

    @Test("an agent run to completion exits 0 and its every line is read")
    func cleanRun() async throws {
        let directory = try TemporaryDirectory()
        let agent = try Agent.start("put-loop", directory.path("run.sqlite"), "h", "300")
        defer { agent.kill() }
        try await agent.expectCleanExit()
        #expect(agent.acks == Array(0..<300))
        #expect(agent.stderrText.isEmpty)
    }

    @Test("a bad mode exits 1 with a message on stderr")
    func badMode() async throws {
        let directory = try TemporaryDirectory()
        let agent = try Agent.start("no-such-mode", directory.path("bad.sqlite"))
        defer { agent.kill() }
        #expect(try await agent.waitForExit() == .exited(1))
        #expect(agent.stderrText.contains("unknown mode no-such-mode"), "\(agent.diagnostics)")
    }

    @Test("waiting for lines fails when the child ends first, or when the timeout passes")
    func waitsFail() async throws {
        let directory = try TemporaryDirectory()
        let opener = try Agent.start("open", directory.path("open.sqlite"))
        defer { opener.kill() }
        let ended = try await #require(throws: ChildProcessFailure.self) {
            try await opener.waitForAcks(1)
        }
        #expect(ended.description.contains("child ended before 1 acks"), "\(ended)")

        let writer = try Agent.start("put-loop", directory.path("slow.sqlite"), "t", "1000000")
        defer { writer.kill() }
        let timedOut = try await #require(throws: ChildProcessFailure.self) {
            try await writer.waitForLines("a line that never comes", timeout: .milliseconds(300)) {
                $0.contains("never")
            }
        }
        #expect(timedOut.description.contains("timed out"), "\(timedOut)")
        try await writer.killAndExpectSignal()
    }
}
