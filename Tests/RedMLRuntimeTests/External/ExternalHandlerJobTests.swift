import Foundation
import RedML
import RedMLRuntime
import Testing

/// Jobs run by real shell scripts through real workers: input, output, metrics and failures.
@Suite("External handler: jobs", .timeLimit(.minutes(2)))
struct ExternalHandlerJobTests {
    @Test func reportsProgressThenCompletesWithTheLastLineAsMetrics() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("train.sh", """
            echo "progress 40"
            echo "loading the data set, this line is ignored"
            while [ ! -f "$DIR/go" ]; do sleep 0.05; done
            echo "progress 90"
            echo '{"accuracy": 0.97, "epochs": 3}'
            echo ""
            """)
        let workers = h.start(try MLExternalHandler(command: command, configuration: h.handlerConfiguration()))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))

        try await h.waitForJob(id, "progress 40") { $0.status == .running && $0.progress == 40 }
        #expect(FileManager.default.createFile(atPath: h.path("go"), contents: nil))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .completed)
        #expect(job.metrics == ["accuracy": 0.97, "epochs": 3])
        #expect(job.progress == 100)
        #expect(job.error == nil)
    }

    @Test func theProgramGetsTheJobInItsEnvironmentAndTheSpecOnStdin() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let work = h.path("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let command = try h.script("env.sh", """
            spec=$(cat)
            printf '{"id":"%s","kind":"%s","target":"%s","attempt":%s,"checkpoint":"%s","extra":"%s","pwd":"%s","path_inherited":"%s","spec":%s}\\n' \\
              "$REDML_JOB_ID" "$REDML_JOB_KIND" "$REDML_JOB_TARGET" "$REDML_JOB_ATTEMPT" "$REDML_JOB_CHECKPOINT" \\
              "$EXTRA" "$(pwd)" "${PATH:+yes}" "$spec"
            """)
        var configuration = h.handlerConfiguration()
        configuration.environment["EXTRA"] = "hello"
        configuration.workingDirectory = work
        let workers = h.start(try MLExternalHandler(command: command, configuration: configuration))
        let spec: MLJSONObject = ["data": "s3://bucket/spam.csv", "epochs": 5, "rate": 0.25, "layers": [64, 32],
                                  "options": ["shuffle": true, "note": "quotes \" and \\ survive"]]
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam_classifier", spec: spec))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.metrics == [
            "id": .string(MLKey.job(id)), "kind": "train", "target": "spam_classifier", "attempt": 1, "checkpoint": "",
            "extra": "hello", "pwd": .string(work), "path_inherited": "yes", "spec": .object(spec),
        ])
    }

    @Test func aNonZeroExitFailsTheJobWithTheStderrTail() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("fail.sh", """
            echo "progress 10"
            echo "loading data" >&2
            echo "  fatal: bad input in row 7  " >&2
            exit 3
            """)
        let workers = h.start(try MLExternalHandler(command: command, configuration: h.handlerConfiguration()))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .failed)
        #expect(job.error == "command exited with status 3: loading data | fatal: bad input in row 7")
    }

    @Test func theFailureQuotesOnlyTheEndOfALongStderr() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        // 3 MB on each stream: a program whose output nobody drained would block on a full pipe.
        let command = try h.script("chatty.sh", """
            head -c 3000000 /dev/zero | tr '\\0' 'e' | fold -w 100 >&2 &
            head -c 3000000 /dev/zero | tr '\\0' 'o' | fold -w 100
            wait
            # fold ends without a line break.
            echo >&2
            echo "the end of the log" >&2
            exit 1
            """)
        var configuration = h.handlerConfiguration()
        configuration.stderrTailBytes = 64
        let workers = h.start(try MLExternalHandler(command: command, configuration: configuration))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        let error = try #require(job.error)
        #expect(job.status == .failed)
        #expect(error.hasPrefix("command exited with status 1: "))
        #expect(error.hasSuffix("eeee | the end of the log"))
        #expect(error.utf8.count <= "command exited with status 1: ".utf8.count + 64 + " | ".utf8.count)
    }

    @Test func aProgramThatWritesALotCompletes() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("chatty.sh", """
            head -c 3000000 /dev/zero | tr '\\0' 'e' | fold -w 100 >&2 &
            head -c 3000000 /dev/zero | tr '\\0' 'o' | fold -w 100
            wait
            # fold ends without a line break.
            echo
            echo '{"lines": 30000}'
            """)
        let workers = h.start(try MLExternalHandler(command: command, configuration: h.handlerConfiguration()))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.metrics == ["lines": 30_000])
    }

    @Test func aDeathBySignalFailsTheJob() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        // Run by the shell itself: a script would be a child of `sh -c`, which reports its death as status 137.
        let command = #"echo "about to crash" >&2; kill -9 $$"#
        let workers = h.start(try MLExternalHandler(command: command, configuration: h.handlerConfiguration()))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .failed)
        #expect(job.error == "command was killed by signal 9: about to crash")
    }

    @Test(arguments: [
        ("echo '{\"ok\": 1}'\necho 'done!'\n", "got 'done!'"),
        ("echo '[1, 2]'\n", "got '[1, 2]'"),
        ("echo 'checkpoint {oops'\nsleep 600 &\nwait\n", "'checkpoint' must be followed by a JSON object"),
        ("echo 'progress lots'\nsleep 600 &\nwait\n", "'progress' must be followed by a number"),
    ])
    func aProtocolViolationFailsTheJobNamingTheLine(_ body: String, _ expected: String) async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("bad.sh", body)
        var configuration = h.handlerConfiguration()
        // The scripts that go on sleeping must be stopped by SIGTERM, not the grace period.
        configuration.terminationGracePeriod = .seconds(120)
        let workers = h.start(try MLExternalHandler(command: command, configuration: configuration))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .failed)
        #expect(job.error?.contains(expected) == true, "\(job.error ?? "")")
    }

    @Test(arguments: [
        ("exit 0\n", [:]),
        ("echo '{\"loss\": 0.5}'\necho 'progress 100'\necho '   '\n", ["loss": 0.5]),
        ("echo 'not metrics'\necho '  {\"loss\": 0.25}  '\n", ["loss": 0.25]),
    ] as [(String, MLJSONObject)])
    func theMetricsAreTheLastTextLine(_ body: String, _ metrics: MLJSONObject) async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("ok.sh", body)
        let workers = h.start(try MLExternalHandler(command: command, configuration: h.handlerConfiguration()))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.metrics == metrics)
    }

    @Test func aCheckpointIsSavedAndTheRetryGetsIt() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        let command = try h.script("retry.sh", """
            if [ -z "$REDML_JOB_CHECKPOINT" ]; then
              echo 'checkpoint {"epoch": 2}'
              echo 'checkpoint {"epoch": 3, "weights": "w-3.bin"}'
              echo "crashed in epoch 4" >&2
              exit 1
            fi
            echo "{\\"resumed_from\\": $REDML_JOB_CHECKPOINT, \\"attempt\\": $REDML_JOB_ATTEMPT}"
            """)
        let workers = h.start(try MLExternalHandler(command: command, configuration: h.handlerConfiguration()))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 2))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        let checkpoint: MLJSONObject = ["epoch": 3, "weights": "w-3.bin"]
        #expect(job.status == .completed, "\(job.error ?? "")")
        #expect(job.metrics == ["resumed_from": .object(checkpoint), "attempt": 2])
        #expect(job.checkpoint == checkpoint)
        #expect(job.failures == 1)
        let failure = try await h.queue.history(of: id).first { $0.reason == "failed" }
        #expect(failure?.detail == "command exited with status 1: crashed in epoch 4")
    }

    @Test func aProgramThatCannotStartFailsTheJob() async throws {
        let h = try ExternalHarness()
        defer { h.removeFolder() }
        var configuration = h.handlerConfiguration()
        configuration.workingDirectory = h.path("missing")
        let workers = h.start(try MLExternalHandler(command: "true", configuration: configuration))
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam", maxAttempts: 1))
        let job = try await h.waitUntilFinished(id)
        try await workers.stop()

        #expect(job.status == .failed)
        #expect(job.error?.contains("could not start '/bin/sh' in '\(h.path("missing"))'") == true, "\(job.error ?? "")")
    }
}
