import Foundation
import RedML
import Testing

@Suite("redml jobs")
struct JobsCommandTests {
    /// Runs `redml arguments --store s.sqlite` in the scratch folder.
    private func run(_ scratch: ScratchDirectory, _ arguments: String...) async throws -> RedMLResult {
        try await run(scratch, arguments)
    }

    /// Runs `redml arguments --store s.sqlite` in the scratch folder.
    private func run(_ scratch: ScratchDirectory, _ arguments: [String]) async throws -> RedMLResult {
        try await RedMLExecutable.run(arguments + ["--store", "s.sqlite"], in: scratch.url)
    }

    /// Submits a job and returns the id it printed.
    private func submit(
        _ scratch: ScratchDirectory, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let result = try await RedMLExecutable.run(["jobs", "submit"] + arguments + ["--store", "s.sqlite"], in: scratch.url)
        expectSuccess(result, sourceLocation: sourceLocation)
        let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(MLKey.parseJob(id) != nil, "not a job id: \(result)", sourceLocation: sourceLocation)
        return id
    }

    private func status(_ scratch: ScratchDirectory, _ id: String) async throws -> String? {
        let show = try await run(scratch, "jobs", "show", id, "--json")
        expectSuccess(show)
        return (try show.jsonObject()["job"] as? [String: Any])?["status"] as? String
    }

    @Test("options out of range are usage errors: exit 64 with the reason, before any store is opened")
    func optionsOutOfRangeExit64() async throws {
        let scratch = try ScratchDirectory()
        for (arguments, text) in [
            (["jobs", "list", "--limit", "0"], "--limit must be 1…100000, got 0"),
            (["jobs", "list", "--kind", ""], "--kind must not be empty"),
            (["jobs", "list", "--queue", ""], "--queue must not be empty"),
            (["jobs", "watch", String(repeating: "0", count: 32), "--interval", "5"], "--interval must be 10…60000"),
            (["worker", "--exec", "no-equals-sign"], "write it as KIND=COMMAND"),
            (["worker", "--exec", "score=a.sh", "--exec", "score=b.sh"], "names kind 'score' twice"),
            (["demo", "--dataset", "mnist"], "unknown data set 'mnist'"),
        ] as [([String], String)] {
            let result = try await RedMLExecutable.run(arguments, in: scratch.url)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.contains(text), "\(arguments): \(result)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("redml.sqlite")), "a usage error opened the store")
    }

    @Test("submit, show, cancel, show: the queued job ends cancelled; cancelling again changes nothing")
    func submitShowCancel() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(
            scratch, ["train", "iris", "--spec", #"{"epochs": 3}"#, "--priority", "7", "--max-attempts", "2",
                      "--unique-key", "iris-nightly"])
        let show = try await run(scratch, "jobs", "show", id)
        expectSuccess(show)
        #expect(show.stdout.contains("status      queued"), "\(show)")
        #expect(show.stdout.contains(#"spec        {"epochs":3}"#), "\(show)")
        #expect(show.stdout.contains("default, priority 7"), "\(show)")
        // The unique key is held by the live job, so submitting again prints the same id, and says so.
        #expect(try await submit(scratch, ["train", "iris", "--unique-key", "iris-nightly"]) == id)
        let duplicate = try await run(scratch, "jobs", "submit", "backfill", "emb", "--unique-key", "iris-nightly", "--json")
        expectSuccess(duplicate)
        #expect(try duplicate.jsonObject()["duplicate"] as? Bool == true, "\(duplicate)")
        #expect(duplicate.stderr.contains("nothing submitted: live job \(id) (train iris, queued)"), "\(duplicate)")

        let cancel = try await run(scratch, "jobs", "cancel", id)
        expectSuccess(cancel)
        #expect(cancel.stdout.contains("cancelled queued job \(id)"), "\(cancel)")
        #expect(try await status(scratch, id) == "cancelled")
        let again = try await run(scratch, "jobs", "cancel", id, "--json")
        expectSuccess(again)
        #expect(try again.jsonObject()["outcome"] as? String == "already_finished")
        let text = try await run(scratch, "jobs", "cancel", id)
        #expect(text.stdout.contains("nothing to cancel: job \(id) already cancelled"), "\(text)")

        let history = try await run(scratch, "jobs", "history", id, "--json")
        expectSuccess(history)
        let events = try #require(try history.jsonObject()["events"] as? [[String: Any]])
        #expect(events.map { $0["reason"] as? String } == ["submitted", "cancelled"])
    }

    @Test("unknown and malformed ids, bad options and bad JSON fail with one clear line")
    func errors() async throws {
        let scratch = try ScratchDirectory()
        _ = try await submit(scratch, ["train", "iris"])
        let unknown = String(repeating: "0", count: 31) + "1"
        for command in ["show", "cancel", "history", "watch"] {
            let result = try await run(scratch, "jobs", command, unknown)
            expectCleanFailure(result, mentioning: "unknown job \(unknown); list jobs with `redml jobs list`")
        }
        expectCleanFailure(try await run(scratch, "jobs", "show", "xyz"), mentioning: "bad job id 'xyz': expected 32 hex digits")
        let badSpec = try await run(scratch, "jobs", "submit", "train", "iris", "--spec", "[1, 2")
        expectCleanFailure(badSpec, mentioning: "invalid JSON for --spec")
        #expect(badSpec.stderr.contains("line 1, column 6"), "\(badSpec)")
        expectCleanFailure(
            try await run(scratch, "jobs", "submit", "train", "iris", "--spec", "[1]"), mentioning: "expected a JSON object")
        expectCleanFailure(try await run(scratch, "jobs", "submit", "train", "iris", "--run-at", "soon"), mentioning: "--run-at 'soon' is not a time")
        expectCleanFailure(try await run(scratch, "jobs", "submit", "train", "iris", "--priority", "5000"), mentioning: "priority")
        for outside in ["253402300800000", "+10000000000d", "1969-12-31T23:59:59Z"] {
            let result = try await run(scratch, "jobs", "submit", "train", "iris", "--run-at", outside)
            expectCleanFailure(result, mentioning: "--run-at '\(outside)' is not between 1970 and 9999")
            #expect(!result.stderr.contains("description unavailable"), "\(result)")
        }
        expectCleanFailure(try await run(scratch, "jobs", "list", "--status", "done"), mentioning: "unknown status 'done'")
    }

    @Test("a submission refused for its own fields fails with one line and creates no store",
          arguments: [
              (["--priority", "5000"], "priority must be within -1000...1000, got 5000"),
              (["--queue", "a b"], "queue 'a b' must be 1–64 characters"),
              (["--max-attempts", "0"], "max attempts must be 1...1000, got 0"),
              (["--unique-key", ""], "unique key must be 1–255 bytes"),
          ])
    func refusedSubmissionCreatesNoStore(extra: [String], text: String) async throws {
        let scratch = try ScratchDirectory()
        let result = try await run(scratch, ["jobs", "submit", "train", "iris"] + extra)
        expectCleanFailure(result, mentioning: text)
        #expect(!scratch.exists("s.sqlite"), "a refused submission created the store: \(result)")
    }

    @Test("a job whose record cannot be read fails show, history and cancel as job_corrupt, naming the record")
    func corruptJobRecord() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(scratch, ["train", "spam"])
        try scratch.sqlite3("s.sqlite", "UPDATE ml_kv SET value = '{oops' WHERE namespace = 'jobs' AND key = '\(id)'")
        for command in ["show", "history", "cancel"] {
            let result = try await run(scratch, "jobs", command, id, "--json")
            expectCleanFailure(result, mentioning: "the stored record of job \(id) is damaged")
            #expect(result.status == 1 && result.stderr.contains("jobs/\(id)") && result.stderr.contains("not valid JSON"),
                    "\(command): \(result)")
            #expect(result.stderr.contains("redml store check"), "\(command): \(result)")
            let error = try #require(try result.jsonObject()["error"] as? [String: Any], "\(command): \(result)")
            #expect(error["code"] as? String == "job_corrupt", "\(command): \(result)")
        }
    }

    @Test("list --status set_aside names the job records that cannot be read, with what is wrong")
    func listSetAside() async throws {
        let scratch = try ScratchDirectory()
        let kept = try await submit(scratch, ["train", "spam"])
        let broken = try await submit(scratch, ["train", "ham"])
        try scratch.sqlite3("s.sqlite", "UPDATE ml_kv SET value = '{oops' WHERE namespace = 'jobs' AND key = '\(broken)'")
        let json = try await run(scratch, "jobs", "list", "--status", "set_aside", "--json")
        expectSuccess(json)
        let object = try json.jsonObject()
        #expect((object["jobs"] as? [Any])?.isEmpty == true, "\(json)")
        let setAside = try #require(object["set_aside"] as? [[String: Any]], "\(json)")
        #expect(setAside.count == 1 && setAside.first?["id"] as? String == broken, "\(json)")
        #expect(setAside.first?["record"] as? String == "jobs/\(broken)", "\(json)")
        #expect((setAside.first?["problem"] as? String)?.contains("not valid JSON") == true, "\(json)")
        let text = try await run(scratch, "jobs", "list", "--status", "set_aside")
        expectSuccess(text)
        #expect(text.stdout.contains(broken) && text.stdout.contains("not valid JSON") && !text.stdout.contains(kept), "\(text)")
    }

    @Test("list filters by status and kind, newest first, and honours --limit")
    func listFilters() async throws {
        let scratch = try ScratchDirectory()
        let train1 = try await submit(scratch, ["train", "a"])
        let backfill = try await submit(scratch, ["backfill", "emb", "--run-at", "+1h"])
        let train2 = try await submit(scratch, ["train", "b", "--run-at", "2099-01-01T00:00:00Z"])
        expectSuccess(try await run(scratch, "jobs", "cancel", train1))

        func ids(_ arguments: String...) async throws -> [String] {
            let result = try await RedMLExecutable.run(["jobs", "list"] + arguments + ["--store", "s.sqlite", "--json"], in: scratch.url)
            expectSuccess(result)
            let jobs = try #require(try result.jsonObject()["jobs"] as? [[String: Any]])
            return jobs.compactMap { $0["id"] as? String }
        }
        #expect(try await ids() == [train2, backfill, train1])
        #expect(try await ids("--kind", "train") == [train2, train1])
        #expect(try await ids("--status", "cancelled") == [train1])
        #expect(try await ids("--status", "queued", "--kind", "train") == [train2])
        #expect(try await ids("--limit", "1") == [train2])

        let text = try await run(scratch, "jobs", "list", "--kind", "backfill")
        expectSuccess(text)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(text)")
        #expect(lines[1].hasPrefix(backfill), "\(text)")
        let none = try await run(scratch, "jobs", "list", "--kind", "drift_compute")
        #expect(none.stdout.contains("no jobs match the filters"), "\(none)")

        let scheduled = try await run(scratch, "jobs", "show", train2, "--json")
        let job = try #require(try scheduled.jsonObject()["job"] as? [String: Any])
        #expect((job["run_at_ms"] as? NSNumber)?.int64Value == 4_070_908_800_000)
    }

    @Test("watch on a pipe follows a job cancelled by another process: plain lines, failing exit")
    func watchCancelled() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(scratch, ["train", "iris"])
        let directory = scratch.url
        async let watching = RedMLExecutable.run(
            ["jobs", "watch", id, "--interval", "20", "--store", "s.sqlite"], in: directory)
        // Give the watcher a moment to see the queued state first; the assertions hold either way.
        try await Task.sleep(for: .milliseconds(500))
        expectSuccess(try await run(scratch, "jobs", "cancel", id))
        let watch = try await watching
        expectCleanFailure(watch, mentioning: "job \(id) was cancelled")
        expectPlainLines(watch.stdout)
        let lines = watch.stdout.split(separator: "\n")
        #expect(lines.first == "train iris: watching", "\(watch)")
        #expect(lines.contains { $0.hasPrefix("train iris: cancelled 0%") }, "\(watch)")
        #expect(lines.last?.hasPrefix("train iris: cancelled (") == true, "\(watch)")
    }

    /// Runs `body` while workers in this process run `cli_test` jobs from the scratch store with `handler`.
    private func withWorkers<Result>(
        _ scratch: ScratchDirectory, handler: @escaping MLJobWorkers.Handler,
        _ body: (MLJobQueue) async throws -> Result
    ) async throws -> Result {
        let store = try SQLiteMLPersistence(path: scratch.path("s.sqlite"))
        defer { try? store.close() }
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 1
        configuration.pollInterval = .milliseconds(50)
        let queue = MLJobQueue(store: store)
        let workers = MLJobWorkers(queue: queue, configuration: configuration)
        workers.register("cli_test", handler)
        let running = Task { try await workers.run() }
        defer { running.cancel() }
        let result = try await body(queue)
        workers.beginShutdown()
        try await running.value
        return result
    }

    @Test("watch follows a job a worker runs to completion, one line per progress change, and exits 0")
    func watchCompleted() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(scratch, ["cli_test", "iris"])
        let directory = scratch.url
        let watch = try await withWorkers(scratch, handler: { job in
            for step in 1...4 {
                // The first step waits a second, for the watch process to start on a busy machine.
                try await Task.sleep(for: .milliseconds(step == 1 ? 1_000 : 150))
                try await job.checkpoint(["step": .int(Int64(step))], progress: Double(step) * 25)
            }
            return ["steps": 4]
        }) { _ in
            try await RedMLExecutable.run(["jobs", "watch", id, "--interval", "20", "--store", "s.sqlite"], in: directory)
        }
        expectSuccess(watch)
        #expect(watch.stderr.isEmpty, "\(watch)")
        expectPlainLines(watch.stdout)
        let lines = watch.stdout.split(separator: "\n")
        #expect(lines.first == "cli_test iris: watching", "\(watch)")
        #expect(lines.contains { $0.hasPrefix("cli_test iris: completed 100%") }, "\(watch)")
        #expect(lines.last?.hasPrefix("cli_test iris: completed (") == true, "\(watch)")
        // Each line reports a change: no two progress lines are the same.
        let updates = lines.dropFirst().dropLast().map { $0.split(separator: "(").first ?? "" }
        #expect(Set(updates).count == updates.count, "\(watch)")
        // And each change is there: the handler's steps are 150 ms apart or more, the watch looks every 20 ms.
        for percent in [25, 50, 75] {
            #expect(updates.contains("cli_test iris: running \(percent)% "), "no line for \(percent)%: \(watch)")
        }
    }

    @Test("watch exits non-zero with the error of a job that failed")
    func watchFailed() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(scratch, ["cli_test", "iris", "--max-attempts", "1"])
        let directory = scratch.url
        let watch = try await withWorkers(scratch, handler: { _ in
            throw MLJobFailure("the data set has no rows", retryable: false)
        }) { _ in
            try await RedMLExecutable.run(["jobs", "watch", id, "--interval", "20", "--store", "s.sqlite"], in: directory)
        }
        expectCleanFailure(watch, mentioning: "job \(id) failed after 1 attempt: the data set has no rows")
        expectPlainLines(watch.stdout)
        #expect(watch.stdout.split(separator: "\n").last?.hasPrefix("cli_test iris: failed (") == true, "\(watch)")
    }

    @Test("cancelling a running job from another process asks its handler to stop; watch sees it end cancelled")
    func cancelRunning() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(scratch, ["cli_test", "iris"])
        let jobID = try #require(MLKey.parseJob(id))
        let directory = scratch.url
        let (cancel, watch) = try await withWorkers(scratch, handler: { job in
            // Runs until asked to stop; checkpoint reads the request from the store.
            while !(try await job.checkpoint([:], progress: 40)) {
                try await Task.sleep(for: .milliseconds(50))
            }
            throw CancellationError()
        }) { queue in
            for _ in 0..<1_200 where try await queue.requireJob(jobID).status != .running {
                try await Task.sleep(for: .milliseconds(50))
            }
            async let watching = RedMLExecutable.run(
                ["jobs", "watch", id, "--interval", "20", "--store", "s.sqlite"], in: directory)
            let cancel = try await run(scratch, "jobs", "cancel", id)
            return (cancel, try await watching)
        }
        expectSuccess(cancel)
        #expect(cancel.stdout.contains("cancel requested for running job \(id)"), "\(cancel)")
        expectCleanFailure(watch, mentioning: "job \(id) was cancelled")
        expectPlainLines(watch.stdout)
        #expect(try await status(scratch, id) == "cancelled")
    }

    @Test("--json prints one JSON object for every list and show command")
    func jsonEverywhere() async throws {
        let scratch = try ScratchDirectory()
        let id = try await submit(scratch, ["train", "iris"])
        let commands: [[String]] = [
            ["jobs", "list"], ["jobs", "show", id], ["jobs", "history", id], ["jobs", "submit", "train", "x"],
            ["jobs", "cancel", id], ["jobs", "watch", id],
        ]
        for command in commands {
            let result = try await RedMLExecutable.run(command + ["--store", "s.sqlite", "--json"], in: scratch.url)
            #expect(result.stdout.split(separator: "\n").count == 1, "\(command): \(result)")
            _ = try result.jsonObject()
        }
    }

    /// Checks that `text` is plain lines: no carriage returns, escapes or other control characters.
    private func expectPlainLines(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let controls = text.unicodeScalars.filter { $0 != "\n" && $0.properties.generalCategory == .control }
        #expect(controls.isEmpty, "control characters in: \(text.debugDescription)", sourceLocation: sourceLocation)
    }
}
