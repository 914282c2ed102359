import Foundation
import RedML
import RedMLRuntime
import Testing

/// Stopping external programs: cancellation, shutdown, and resuming from their checkpoints.
@Suite("External handler: stopping and resuming", .timeLimit(.minutes(2)))
struct ExternalHandlerStopTests {
    /// Writes its own pid and its child's, reports progress, then waits on the child.
    private static let sleeper = """
        echo $$ > "$DIR/shell.pid"
        sleep 600 &
        echo $! > "$DIR/sleep.pid"
        echo "progress 10"
        wait
        """

    @Test func cancellingARunningJobStopsItsProcessGroup() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("sleeper.sh", Self.sleeper)
        var configuration = h.handlerConfiguration()
        // Far beyond the wait below: the job must end through SIGTERM, not the SIGKILL that follows the grace period.
        configuration.terminationGracePeriod = .seconds(600)
        let workers = h.start(try MLExternalHandler(command: command, configuration: configuration))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        try await h.waitForJob(id, "the program to start") { $0.progress == 10 }
        let shell = try #require(try h.pid(in: "shell.pid"))
        let sleep = try #require(try h.pid(in: "sleep.pid"))
        #expect(!isGone(shell))
        #expect(!isGone(sleep))

        #expect(try await h.queue.cancel(id) == .requested)
        let job = try await h.waitUntilFinished(id)
        #expect(job.status == .cancelled)
        // The job ends only once the program is reaped; its child is an orphan that init reaps.
        #expect(isGone(shell))
        try await eventually("the sleep the program started to be gone") { isGone(sleep) }
        try await workers.stop()
    }

    @Test func aCancelRequestFromAnotherProcessStopsTheProgramAtItsNextCheckpoint() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("loop.sh", """
            echo $$ > "$DIR/shell.pid"
            echo "progress 5"
            while [ ! -f "$DIR/go" ]; do sleep 0.05; done
            # Ignoring SIGTERM: only SIGKILL, after the grace period, ends this.
            trap '' TERM
            echo 'checkpoint {"step": 1}'
            while true; do sleep 0.05; done
            """)
        var configuration = h.handlerConfiguration()
        configuration.terminationGracePeriod = .milliseconds(200)
        // No lease renewal during the test: the checkpoint's answer is what tells this worker about the cancel.
        let workers = h.start(try MLExternalHandler(command: command, configuration: configuration), heartbeat: .seconds(600))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        try await h.waitForJob(id, "the program to start") { $0.progress == 5 }
        #expect(try await h.reopenedQueue().cancel(id) == .requested)
        #expect(FileManager.default.createFile(atPath: h.path("go"), contents: nil))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .cancelled)
        #expect(job.checkpoint == ["step": 1])
        #expect(isGone(try #require(try h.pid(in: "shell.pid"))))
    }

    enum Interruption: String, CaseIterable, Sendable {
        case gracefulShutdown
        case taskCancellation
    }

    @Test(arguments: Interruption.allCases)
    func anInterruptedJobResumesFromItsCheckpointInANewWorkerPool(_ interruption: Interruption) async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("resume.sh", """
            if [ -n "$REDML_JOB_CHECKPOINT" ]; then
              echo "{\\"resumed_from\\": $REDML_JOB_CHECKPOINT, \\"attempt\\": $REDML_JOB_ATTEMPT}"
              exit 0
            fi
            echo 'checkpoint {"step": 7}'
            echo 'progress 35'
            sleep 600 &
            wait
            """)
        let handler = try MLExternalHandler(command: command, configuration: h.handlerConfiguration())
        let first = h.start(handler, gracePeriod: .milliseconds(100))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        try await h.waitForJob(id, "the checkpoint") { $0.checkpoint == ["step": 7] && $0.progress == 35 }

        switch interruption {
        case .gracefulShutdown: first.workers.beginShutdown()
        case .taskCancellation: first.task.cancel()
        }
        // Cancelled, run() may return or throw CancellationError: either way it has stopped.
        _ = await first.task.result
        let interrupted = try await h.queue.requireJob(id)
        #expect(interrupted.status == .queued)
        #expect(interrupted.failures == 0)
        #expect(interrupted.checkpoint == ["step": 7])

        // Another process, as far as the queue can tell: a new queue object and worker pool over the same store.
        let second = h.start(handler, queue: h.reopenedQueue())
        let job = try await h.waitUntilFinished(id)
        try await second.stop()
        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.metrics == ["resumed_from": ["step": 7], "attempt": 2])
    }

    @Test func aCheckpointWrittenOnSigtermIsSaved() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("trap.sh", """
            trap 'echo "checkpoint {\\"step\\": 8, \\"saved_on\\": \\"SIGTERM\\"}"; exit 143' TERM
            echo 'checkpoint {"step": 7}'
            sleep 600 &
            wait
            """)
        let handler = try MLExternalHandler(command: command, configuration: h.handlerConfiguration())
        let workers = h.start(handler, gracePeriod: .milliseconds(100))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        try await h.waitForJob(id, "the first checkpoint") { $0.checkpoint == ["step": 7] }
        try await workers.stop()

        let job = try await h.queue.requireJob(id)
        #expect(job.status == .queued)
        #expect(job.checkpoint == ["step": 8, "saved_on": "SIGTERM"])
    }
}
