import Foundation
import RedML
import Testing

/// `redml train`, `predict` and `worker` (with `--exec`) as real processes.
@Suite("redml worker, train and predict")
struct WorkerCommandTests {
    @Test("train --wait registers a version that predict loads; a CSV without the label column works")
    func trainThenPredict() async throws {
        let scratch = try ScratchDirectory()
        let trained = try await scratch.redml("train", "--data", "builtin:iris", "--model", "flowers", "--wait")
        expectSuccess(trained)
        #expect(trained.stdout.contains("registered flowers version 1, held-out accuracy"), "\(trained)")
        try """
            petal_width_cm,sepal_length_cm,sepal_width_cm,petal_length_cm
            0.2,5.1,3.5,1.4
            2.3,6.9,3.1,5.4
            """.write(toFile: scratch.path("rows.csv"), atomically: true, encoding: .utf8)
        let text = try await scratch.redml("predict", "--model", "flowers", "--data", "rows.csv")
        expectSuccess(text)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(text)")
        #expect(lines.first?.hasPrefix("1\tsetosa\t") == true, "\(text)")
        #expect(lines.last?.hasPrefix("2\tvirginica\t") == true, "\(text)")
        let json = try await scratch.redml("predict", "--model", "flowers", "--version", "1", "--data", "rows.csv",
                                           "--json")
        expectSuccess(json)
        let predictions = try #require(try json.jsonObject()["predictions"] as? [[String: Any]])
        let probabilities = try #require(predictions.first?["probabilities"] as? [String: NSNumber])
        #expect(abs(probabilities.values.map(\.doubleValue).reduce(0, +) - 1) < 1e-9)
        let missing = try await scratch.redml("predict", "--model", "flowers", "--data", "nope.csv")
        expectCleanFailure(missing, mentioning: "--data nope.csv: no such file")
        // A version registered without activating it says so.
        let inactive = try await scratch.redml(
            "train", "--data", "builtin:iris", "--model", "flowers", "--epochs", "20", "--wait", "--no-activate")
        expectSuccess(inactive)
        #expect(inactive.stdout.contains("registered flowers version 2 (not active), held-out accuracy"), "\(inactive)")
    }

    @Test("train checks its data and model name before it submits anything")
    func trainRefusesBadInputUpFront() async throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch.path("adir"), withIntermediateDirectories: true)
        for (arguments, text) in [
            (["--data", "builtin:nope", "--model", "m"], "no such built-in data set"),
            (["--data", "adir", "--model", "m"], "--data adir is a directory"),
            (["--data", "builtin:iris", "--model", "a/b"], "--model: model name 'a/b' contains '/'"),
        ] as [([String], String)] {
            let result = try await RedMLExecutable.run(["train"] + arguments, in: scratch.url)
            expectCleanFailure(result, mentioning: text)
        }
        let listed = try await scratch.redml("jobs", "list", "--json")
        #expect(((try? listed.jsonObject()["jobs"] as? [Any]) ?? []).isEmpty, "\(listed)")
    }

    @Test("an empty path, a directory or an unknown built-in data set is named as such by train, predict and register")
    func emptyAndDirectoryPathsNamed() async throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch.path("adir"), withIntermediateDirectories: true)
        try Data().write(to: scratch.url.appendingPathComponent("empty.bin"))
        for (arguments, text) in [
            (["train", "--data", "", "--model", "m"], "--data is empty"),
            (["predict", "--model", "m", "--data", ""], "--data is empty"),
            (["predict", "--model", "m", "--data", "adir"], "--data adir is a directory"),
            (["predict", "--model", "m", "--data", "builtin:nope"], "--data builtin:nope: no such built-in data set"),
            (["models", "register", "m", "--weights", ""], "--weights is empty"),
            (["models", "register", "m", "--weights", "empty.bin"], "weights file empty.bin is empty"),
        ] as [([String], String)] {
            let result = try await RedMLExecutable.run(arguments, in: scratch.url)
            expectCleanFailure(result, mentioning: text)
        }
        #expect(!scratch.exists("redml.sqlite"))
    }

    @Test("SIGINT during train --wait cancels the job the process runs, rather than leaving it running under a dead lease")
    func interruptingTrainWaitCancelsItsJob() async throws {
        let scratch = try ScratchDirectory()
        let train = try BackgroundRedML(
            ["train", "--data", "builtin:digits", "--model", "digits", "--epochs", "1000000", "--wait"], in: scratch.url)
        var running = false
        for _ in 0..<600 where !running {  // at most a minute
            try await Task.sleep(for: .milliseconds(100))
            let listed = try await scratch.redml("jobs", "list", "--status", "running", "--json")
            running = ((try? listed.jsonObject()["jobs"] as? [Any])?.count ?? 0) == 1
        }
        #expect(running, "the job never started: \(train.stderr)")
        train.signal(SIGINT)
        #expect(try await train.waitForExit(timeout: .seconds(30)) == 1, "\(train.stderr)")
        #expect(train.stderr.contains("interrupted: cancelling job"), "\(train.stderr)")
        #expect(train.stderr.contains("was cancelled before it completed"), "\(train.stderr)")
        let listed = try await scratch.redml("jobs", "list", "--json")
        let jobs = try #require(try listed.jsonObject()["jobs"] as? [[String: Any]])
        #expect(jobs.map { $0["status"] as? String } == ["cancelled"], "\(listed)")
    }

    @Test("a train job submitted without --wait runs on a `redml worker`, which stops cleanly on SIGTERM")
    func trainRunsOnAWorker() async throws {
        let scratch = try ScratchDirectory()
        let submitted = try await scratch.redml("train", "--data", "builtin:wine", "--model", "wine", "--epochs", "50")
        expectSuccess(submitted)
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(MLKey.parseJob(id) != nil, "\(submitted)")
        let worker = try BackgroundRedML(["worker", "--workers", "1"], in: scratch.url)
        let watched = try await scratch.redml("jobs", "watch", id)
        expectSuccess(watched)
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit() == 0, "\(worker.stderr)")
        let versions = try await scratch.redml("models", "versions", "wine", "--json")
        expectSuccess(versions)
        #expect((try versions.jsonObject()["versions"] as? [Any])?.count == 1, "\(versions)")
    }

    @Test("a second SIGTERM ends a worker at once, while a handler that ignores its stop holds the graceful shutdown")
    func secondSignalExitsAtOnce() async throws {
        let scratch = try ScratchDirectory()
        try """
            #!/bin/sh
            trap '' TERM INT
            echo $$ > "$PWD/stuck.pid"
            touch "$PWD/started"
            sleep 600
            """.write(toFile: scratch.path("stuck.sh"), atomically: true, encoding: .utf8)
        expectSuccess(try await scratch.redml("jobs", "submit", "stuck", "anything"))
        let worker = try BackgroundRedML(
            ["worker", "--workers", "1", "--exec", "stuck=sh \(scratch.path("stuck.sh"))"], in: scratch.url)
        defer {
            if let pid = Int32((try? String(contentsOfFile: scratch.path("stuck.pid"), encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            {
                kill(pid, SIGKILL)
            }
        }
        try await waitUntil("the stuck handler to start") { scratch.exists("started") }
        let stuck = try #require(Int32(try String(contentsOfFile: scratch.path("stuck.pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        // The shell that runs the command leads the group; the script is its child.
        let group = try #require(processGroup(of: stuck))
        #expect(livingMembers(ofProcessGroup: group).contains(stuck))
        worker.signal(SIGTERM)
        // Signals sent together merge into one: send the second once the first has been taken.
        try await waitUntil("the worker to begin its shutdown") { worker.stderr.contains("shutting down") }
        let second = ContinuousClock.now
        worker.signal(SIGTERM)
        // The grace period alone is 10 s; without the second signal the worker would wait it out.
        #expect(try await worker.waitForExit(timeout: .seconds(30)) == 128 + SIGTERM, "\(worker.stderr)")
        #expect(ContinuousClock.now - second < .seconds(5))
        #expect(worker.stderr.contains("second signal: exiting without waiting for shutdown to finish"), "\(worker.stderr)")
        // The handler's program (a process group of its own) did not outlive the worker.
        try await waitUntil("the stuck handler's process group to be gone", timeout: .seconds(5)) {
            livingMembers(ofProcessGroup: group).isEmpty
        }
    }

    @Test("an --exec job killed with its worker resumes on a second worker from its last checkpoint")
    func externalHandlerResumesFromCheckpoint() async throws {
        let scratch = try ScratchDirectory()
        // Counts to 10, one checkpoint per step; the first attempt stalls after step 4.
        try """
            #!/bin/sh
            echo $$ > "$PWD/script-$REDML_JOB_ATTEMPT.pid"
            start=0
            if [ -n "$REDML_JOB_CHECKPOINT" ]; then start=$(echo "$REDML_JOB_CHECKPOINT" | tr -cd '0-9'); fi
            echo "$REDML_JOB_ATTEMPT $start $REDML_JOB_KIND $REDML_JOB_TARGET" >> "$PWD/attempts.log"
            i=$start
            while [ $i -lt 10 ]; do
                i=$((i + 1))
                echo "progress $((i * 10))"
                echo "checkpoint {\\"step\\":$i}"
                if [ $i -eq 4 ] && [ -z "$REDML_JOB_CHECKPOINT" ]; then touch "$PWD/stalled"; sleep 600; fi
            done
            echo "{\\"steps\\":$i,\\"resumed_from\\":$start}"
            """.write(toFile: scratch.path("count.sh"), atomically: true, encoding: .utf8)
        let submitted = try await scratch.redml("jobs", "submit", "count", "numbers", "--max-attempts", "3")
        expectSuccess(submitted)
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let exec = "count=sh \(scratch.path("count.sh"))"

        let first = try BackgroundRedML(["worker", "--workers", "1", "--exec", exec], in: scratch.url)
        try await waitUntil("the first attempt to stall after step 4") { scratch.exists("stalled") }
        // The script printed its checkpoint before stalling; the worker stores it a moment later.
        // Kill it once the store has it: what a crash must not lose is a saved checkpoint.
        var stored: Int?
        for _ in 0..<300 where stored != 4 {
            let shown = try await scratch.redml("jobs", "show", id, "--json")
            let checkpoint = (try? shown.jsonObject()["job"] as? [String: Any])?["checkpoint"] as? [String: Any]
            stored = (checkpoint?["step"] as? NSNumber)?.intValue
            if stored != 4 { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(stored == 4, "the first attempt's checkpoint of step 4 was never stored")
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        // The stalled script and its `sleep` outlive their killed worker (see the README); stop their group too.
        if let pid = Int32((try? String(contentsOfFile: scratch.path("script-1.pid"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""), let group = processGroup(of: pid)
        {
            kill(-group, SIGKILL)
        }

        // The second worker rescues the job once the dead worker's lease expires (two heartbeats).
        let second = try BackgroundRedML(["worker", "--workers", "1", "--exec", exec], in: scratch.url)
        let watched = try await scratch.redml("jobs", "watch", id)
        expectSuccess(watched)
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0, "\(second.stderr)")

        let shown = try await scratch.redml("jobs", "show", id, "--json")
        let job = try #require(try shown.jsonObject()["job"] as? [String: Any], "\(shown)")
        let metrics = try #require(job["metrics"] as? [String: Any], "\(shown)")
        #expect((metrics["resumed_from"] as? NSNumber)?.intValue == 4)
        #expect((metrics["steps"] as? NSNumber)?.intValue == 10)
        let attempts = try String(contentsOfFile: scratch.path("attempts.log"), encoding: .utf8)
        #expect(attempts == "1 0 count numbers\n2 4 count numbers\n")
    }
}

/// Polls `condition` every 20 ms; fails after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw RedMLExecutableFailure(description: "timed out: \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// The process group of `pid`, from `/proc`, or `nil` if it is gone.
func processGroup(of pid: Int32) -> Int32? {
    procStat(of: pid).flatMap { Int32($0.fields[2]) }
}

/// The processes in process group `group` that are not zombies, from `/proc`
/// (a zombie's parent may be a container's init that never reaps it).
func livingMembers(ofProcessGroup group: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
        guard let pid = Int32(entry), let stat = procStat(of: pid),
            stat.fields[0] != "Z", Int32(stat.fields[2]) == group
        else { return nil }
        return pid
    }
}

/// The fields of `/proc/<pid>/stat` after "pid (comm)": state, ppid, pgrp, ….
private func procStat(of pid: Int32) -> (pid: Int32, fields: [Substring])? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 2 ? (pid, fields) : nil
}
