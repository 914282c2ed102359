import Foundation
import RedML
import Testing

@Suite("redml store")
struct StoreCommandTests {
    @Test("backup, then restore, brings back the state at the backup")
    func backupRestoreRoundTrip() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        let backup = try await scratch.redml("store", "backup", "backup.sqlite")
        expectSuccess(backup)
        #expect(scratch.exists("backup.sqlite"))
        expectSuccess(try await scratch.redml("demo"))

        let restore = try await scratch.redml("store", "restore", "backup.sqlite", "--json")
        expectSuccess(restore)
        let contents = try #require(try restore.jsonObject()["contents"] as? [String: Any])
        let entries = try #require(contents["entries"] as? [String: Any])
        #expect((entries[MLNamespace.modelVersions] as? NSNumber)?.intValue == 1)

        do {
            let store = try SQLiteMLPersistence(path: scratch.path("redml.sqlite"))
            defer { try? store.close() }
            #expect(try await store.get(namespace: MLNamespace.modelVersions, key: "iris@v1") != nil)
            #expect(try await store.get(namespace: MLNamespace.modelVersions, key: "iris@v2") == nil)
        }
        // The restored model record says version 1, so the next run makes version 2 again.
        let again = try await scratch.redml("demo", "--json")
        expectSuccess(again)
        #expect((try again.jsonObject()["version"] as? NSNumber)?.intValue == 2)
    }

    @Test("check exits 0 on a healthy store")
    func checkHealthy() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        let check = try await scratch.redml("store", "check")
        expectSuccess(check)
        #expect(check.stdout.contains("healthy"), "\(check)")
        let quick = try await scratch.redml("store", "check", "--no-verify-blobs", "--json")
        expectSuccess(quick)
        let integrity = try #require(try quick.jsonObject()["integrity"] as? [String: Any])
        #expect(integrity["healthy"] as? Bool == true)
        #expect(integrity["blobs_verified"] as? Bool == false)
    }

    @Test("check prints each problem and exits non-zero")
    func checkReportsProblems() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        try scratch.sqlite3("redml.sqlite", "UPDATE ml_kv SET value = '{oops' WHERE namespace = 'jobs'")
        let check = try await scratch.redml("store", "check")
        expectCleanFailure(check, mentioning: "integrity problem")
        #expect(check.stdout.contains("problem corrupt_value: jobs/"), "\(check)")
    }

    /// A store the demo ran in twice: models/iris with versions 1 and 2, and two jobs.
    static func storeWithTwoDemoRuns() async throws -> ScratchDirectory {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        expectSuccess(try await scratch.redml("demo"))
        return scratch
    }

    @Test("lists name each record they skip on stderr, and --json lists them under skipped")
    func listsNameSkippedRecords() async throws {
        let scratch = try await Self.storeWithTwoDemoRuns()
        try scratch.sqlite3("redml.sqlite", """
            INSERT INTO ml_kv (namespace, key, value, revision) VALUES ('models', 'broken', 'not json', 1);
            UPDATE ml_kv SET value = '{oops' WHERE namespace = 'model_versions' AND key = 'iris@v1';
            UPDATE ml_kv SET value = '{oops' WHERE namespace = 'jobs'
              AND key = (SELECT min(key) FROM ml_kv WHERE namespace = 'jobs');
            UPDATE ml_kv SET value = '{oops' WHERE namespace = 'model_history'
              AND key = (SELECT min(key) FROM ml_kv WHERE namespace = 'model_history');
            UPDATE ml_kv SET value = '{oops' WHERE namespace = 'job_history'
              AND key = (SELECT max(key) FROM ml_kv WHERE namespace = 'jobs') || '/00000001';
            """)
        let listed = try await scratch.redml("jobs", "list", "--json")
        let jobs = try #require(try listed.jsonObject()["jobs"] as? [[String: Any]], "\(listed)")
        let job = try #require(jobs.first?["id"] as? String, "\(listed)")
        for (arguments, key) in [
            (["models", "list"], "models/broken"), (["models", "versions", "iris"], "model_versions/iris@v1"),
            (["models", "history", "iris"], "model_history/iris/"), (["jobs", "list"], "jobs/"),
            (["jobs", "history", job], "job_history/\(job)/00000001"),
        ] as [([String], String)] {
            let text = try await RedMLExecutable.run(arguments, in: scratch.url)
            expectSuccess(text)
            #expect(text.stderr.contains("skipped a record that cannot be read"), "\(arguments): \(text)")
            #expect(text.stderr.contains(key), "\(arguments): \(text)")
            let json = try await RedMLExecutable.run(arguments + ["--json"], in: scratch.url)
            expectSuccess(json)
            let skipped = try #require(try json.jsonObject()["skipped"] as? [String], "\(arguments): \(json)")
            #expect(skipped.count == 1 && skipped[0].contains(key), "\(arguments): \(skipped)")
        }
    }

    @Test("models show names an active version whose record cannot be read, and still shows the model")
    func showNamesAnUnreadableActiveVersion() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = '{oops' WHERE namespace = 'model_versions' AND key = 'iris@v' ||
              (SELECT json_extract(value, '$.active_version') FROM ml_kv WHERE namespace = 'models' AND key = 'iris');
            """)
        let text = try await scratch.redml("models", "show", "iris")
        expectSuccess(text)
        #expect(text.stdout.contains("version 1 (its record cannot be read)"), "\(text)")
        #expect(text.stderr.contains("skipped a record that cannot be read") && text.stderr.contains("model_versions/iris@v1"),
                "\(text)")
        let json = try await scratch.redml("models", "show", "iris", "--json")
        expectSuccess(json)
        let object = try json.jsonObject()
        #expect((object["model"] as? [String: Any])?["name"] as? String == "iris", "\(json)")
        #expect(object["active"] is NSNull, "\(json)")
        let skipped = try #require(object["skipped"] as? [String], "\(json)")
        #expect(skipped.count == 1 && skipped[0].contains("model_versions/iris@v1"), "\(skipped)")
    }

    @Test("a record the SQLite store itself skips (not text) is named in the command's log")
    func storeLevelSkipsAreLogged() async throws {
        let scratch = try await Self.storeWithTwoDemoRuns()
        try scratch.sqlite3("redml.sqlite", "INSERT INTO ml_kv (namespace, key, value, revision) VALUES ('models', 'binary', X'FF00FE', 1)")
        let listed = try await scratch.redml("models", "list")
        expectSuccess(listed)
        #expect(listed.stdout.contains("iris"), "\(listed)")
        #expect(listed.stderr.contains("skipping corrupt record") && listed.stderr.contains("binary"), "\(listed)")
    }

    @Test("with --json, a failure is also a JSON error object on stdout; a result that tells the failure comes alone")
    func jsonFailuresAreJSON() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        for (arguments, code, text) in [
            (["models", "show", "nope", "--json"], "unknown_model", "nope"),
            (["jobs", "show", String(repeating: "0", count: 32), "--json"], "unknown_job", "00000000"),
            (["jobs", "show", "not-an-id", "--json"], "invalid_argument", "not-an-id"),
            (["jobs", "list", "--limit", "0", "--json"], "usage", "--limit"),
        ] as [([String], String, String)] {
            let result = try await RedMLExecutable.run(arguments, in: scratch.url)
            if code == "usage" {
                #expect(result.status == 64 && result.stderr.contains(text), "\(result)")
            } else {
                expectCleanFailure(result, mentioning: text)
                // An argument the command cannot use exits 64, as the parser's usage errors do.
                #expect(result.status == (code == "invalid_argument" ? 64 : 1), "\(arguments): \(result)")
            }
            let error = try #require(try result.jsonObject()["error"] as? [String: Any], "\(arguments): \(result)")
            #expect(error["code"] as? String == code, "\(arguments): \(result)")
            #expect((error["message"] as? String)?.contains(text) == true, "\(arguments): \(result)")
        }
        // store check --json prints its report, which lists the problems: one JSON document, no error object after it.
        try scratch.sqlite3("redml.sqlite", "UPDATE ml_kv SET value = '{oops' WHERE namespace = 'jobs'")
        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1)
        let report = try check.jsonObject()
        #expect(report["integrity"] != nil && report["error"] == nil, "\(check)")
    }

    @Test("check reads every record as the registry and queue do: JSON of the wrong shape is a problem, reported once")
    func checkFindsRecordsOfTheWrongShape() async throws {
        let scratch = try await Self.storeWithTwoDemoRuns()
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = '{"archived":1}' WHERE namespace = 'model_versions' AND key = 'iris@v1';
            UPDATE ml_kv SET value = '[]' WHERE namespace = 'jobs' AND key = (SELECT min(key) FROM ml_kv WHERE namespace = 'jobs');
            UPDATE ml_kv SET value = 'not json' WHERE namespace = 'jobs' AND key = (SELECT max(key) FROM ml_kv WHERE namespace = 'jobs');
            """)
        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1)
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any])
        let problems = try #require(integrity["problems"] as? [[String: Any]])
        let codes = problems.compactMap { $0["code"] as? String }.sorted()
        #expect(codes == ["corrupt_value", "unreadable_record", "unreadable_record"], "\(problems)")
        let unreadable = problems.filter { $0["code"] as? String == "unreadable_record" }.compactMap { $0["message"] as? String }
        #expect(unreadable.contains { $0.contains("iris@v1") }, "\(unreadable)")
        #expect(unreadable.contains { $0.contains("jobs/") }, "\(unreadable)")
    }

    @Test("a job with a status no RedML writes, and a model counter below zero, are named for what they are")
    func checkNamesUnknownStatusAndOutOfRangeNumbers() async throws {
        let scratch = try await Self.storeWithTwoDemoRuns()
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = json_set(value, '$.status', 'bogus')
              WHERE namespace = 'jobs' AND key = (SELECT min(key) FROM ml_kv WHERE namespace = 'jobs');
            UPDATE ml_kv SET value = json_set(value, '$.latest_version', -5) WHERE namespace = 'models' AND key = 'iris';
            """)
        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1)
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any])
        let messages = try #require(integrity["problems"] as? [[String: Any]]).compactMap { $0["message"] as? String }
        #expect(messages.contains {
            $0.contains("jobs/") && $0.contains("field 'status': unknown status 'bogus' (expected queued, running, completed, failed, cancelled)")
        }, "\(messages)")
        #expect(messages.contains {
            $0.contains("models/iris") && $0.contains("the JSON is well formed, but a number in it does not fit its field")
        }, "\(messages)")

        let setAside = try await scratch.redml("jobs", "list", "--status", "set_aside", "--json")
        expectSuccess(setAside)
        let listed = try #require(try setAside.jsonObject()["set_aside"] as? [[String: Any]])
        #expect(listed.count == 1 && (listed.first?["problem"] as? String)?.contains("unknown status 'bogus'") == true, "\(setAside)")
    }

    @Test("check reads weights reference counts, and the versions of a model whose own record is unreadable")
    func checkReadsWeightsCountsAndOrphanedVersions() async throws {
        let scratch = try await Self.storeWithTwoDemoRuns()
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = '{"x":1}' WHERE namespace = 'model_weights'
              AND key = (SELECT min(key) FROM ml_kv WHERE namespace = 'model_weights');
            UPDATE ml_kv SET value = '{bad' WHERE namespace = 'models' AND key = 'iris';
            UPDATE ml_kv SET value = '[]' WHERE namespace = 'model_versions' AND key = 'iris@v2';
            """)
        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1)
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any])
        let messages = try #require(integrity["problems"] as? [[String: Any]]).compactMap { $0["message"] as? String }
        #expect(messages.contains { $0.contains("model_weights/") && $0.contains("expected WeightsUsage JSON: missing field") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("models/iris: ") }, "\(messages)")
        #expect(messages.contains { $0.contains("model_versions/iris@v2") && $0.hasSuffix("the record is not a JSON object") },
                "\(messages)")
        #expect(!messages.contains { $0.contains("model_versions/iris@v1") }, "a readable version was reported: \(messages)")
    }

    /// Nothing in the queue finds either: no rescue requeues the job if its worker dies, and the entry
    /// names a job that is gone. Only damage leaves them, so the check names the keys.
    @Test("check reports a running job without a lease entry and a ready entry without a job record")
    func checkFindsJobIndexDamage() async throws {
        let scratch = try ScratchDirectory()
        var ids: [String] = []
        for (target, later) in [("a", false), ("b", false), ("c", false), ("d", true)] {
            let submitted = try await RedMLExecutable.run(
                ["jobs", "submit", "train", target] + (later ? ["--run-at", "2099-01-01T00:00:00Z"] : []), in: scratch.url)
            expectSuccess(submitted)
            ids.append(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // d waits in the scheduled index, untouched: only c, which lost its ready entry, is stranded.
        let (running, gone, stranded) = (ids[0], ids[1], ids[2])
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = json_set(value, '$.status', 'running', '$.worker', 'w1', '$.attempt', 1,
                                              '$.lease_expires_at_ms', 1700000000000)
                WHERE namespace = 'jobs' AND key = '\(running)';
            DELETE FROM ml_kv WHERE namespace = 'job_ready' AND value = '\(running)';
            DELETE FROM ml_kv WHERE namespace = 'jobs' AND key = '\(gone)';
            DELETE FROM ml_kv WHERE namespace = 'job_ready' AND value = '\(stranded)';
            """)
        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1, "\(check)")
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any], "\(check)")
        let problems = try #require(integrity["problems"] as? [[String: Any]])
        let found = problems.map { "\($0["code"] ?? "")|\($0["message"] ?? "")" }.sorted()
        #expect(found.count == 3, "\(found)")
        #expect(found.contains("ready_entry_without_job|job_ready/default/1000/\(gone): no job record jobs/\(gone)"), "\(found)")
        #expect(found.contains("running_job_without_lease|jobs/\(running): running (worker w1) with no lease entry "
                + "job_leases/001700000000000/\(running), so no rescue requeues it if its worker dies"), "\(found)")
        #expect(found.contains {
            $0.hasPrefix("queued_job_without_entry|jobs/\(stranded): queued, but neither job_ready/default/1000/\(stranded) nor job_scheduled/")
                && $0.hasSuffix("so no worker claims it; cancel it and submit it again")
        }, "\(found)")
    }

    @Test("versions above a damaged latest_version are listed, and check reports the counter")
    func damagedVersionCounter() async throws {
        let scratch = try ScratchDirectory()
        try Data("w".utf8).write(to: URL(fileURLWithPath: scratch.path("w.bin")))
        for _ in 1...3 { expectSuccess(try await scratch.redml("models", "register", "iris", "--weights", "w.bin")) }
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = json_set(value, '$.latest_version', 1) WHERE namespace = 'models' AND key = 'iris';
            """)
        let versions = try await scratch.redml("models", "versions", "iris", "--json")
        expectSuccess(versions)
        let listed = try #require(try versions.jsonObject()["versions"] as? [[String: Any]])
        #expect(listed.map { ($0["version"] as? NSNumber)?.intValue } == [1, 2, 3], "\(versions)")
        // Registration does not reuse number 2: it names the record in the way.
        let register = try await scratch.redml("models", "register", "iris", "--weights", "w.bin")
        expectCleanFailure(register, mentioning: "model_versions/iris@v2 already exists")
        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1, "\(check)")
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any], "\(check)")
        let problems = try #require(integrity["problems"] as? [[String: Any]])
        let found = problems.map { "\($0["code"] ?? "")|\($0["message"] ?? "")" }
        #expect(found == ["model_counter_behind|models/iris: latest_version is 1, but model_versions/iris@v3 exists; "
            + "a new version of model 'iris' can be given a number that is taken, and fail, until latest_version is at least 3"],
                "\(found)")
    }

    @Test("check reads the model and job histories, naming each event their readers would skip")
    func checkFindsUnreadableHistoryEvents() async throws {
        let scratch = try ScratchDirectory()
        try Data("w".utf8).write(to: URL(fileURLWithPath: scratch.path("w.bin")))
        expectSuccess(try await scratch.redml("models", "register", "iris", "--weights", "w.bin"))
        let submitted = try await scratch.redml("jobs", "submit", "train", "iris")
        expectSuccess(submitted)
        let job = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let modelEvent = "iris/" + String(repeating: "0", count: 19) + "1"
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = '{"sequence":"one"}' WHERE namespace = 'model_history' AND key = '\(modelEvent)';
            UPDATE ml_kv SET value = 'not json' WHERE namespace = 'job_history' AND key = '\(job)/00000001';
            """)
        // What the hint on a skipped event points at: `redml models history` skips the event and says to run the check.
        let history = try await scratch.redml("models", "history", "iris")
        #expect(history.stderr.contains("see `redml store check`") && history.stderr.contains(modelEvent), "\(history)")

        let check = try await scratch.redml("store", "check", "--json")
        #expect(check.status == 1, "\(check)")
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any], "\(check)")
        let problems = try #require(integrity["problems"] as? [[String: Any]])
        let found = problems.map { "\($0["code"] ?? "")|\($0["message"] ?? "")" }
        #expect(found.count == 2, "\(found)")
        #expect(found.contains { $0.hasPrefix("unreadable_record|") && $0.contains("model_history/\(modelEvent): ") },
                "\(found)")
        #expect(found.contains {
            $0.hasPrefix("unreadable_record|") && $0.contains("job_history/\(job)/00000001: ") && $0.contains("not valid JSON")
        }, "\(found)")
        let text = try await scratch.redml("store", "check")
        #expect(text.stdout.contains("problem unreadable_record: ml persistence value corrupted: model_history/\(modelEvent)"),
                "\(text)")
    }

    @Test("a record that is not JSON does not hide another whose key it begins (iris, iris2)")
    func checkMatchesWholeKeys() async throws {
        let scratch = try ScratchDirectory()
        try Data("w".utf8).write(to: URL(fileURLWithPath: scratch.path("w.bin")))
        for name in ["iris", "iris2"] { expectSuccess(try await scratch.redml("models", "register", name, "--weights", "w.bin")) }
        try scratch.sqlite3("redml.sqlite", """
            UPDATE ml_kv SET value = 'not json' WHERE namespace = 'models' AND key = 'iris';
            UPDATE ml_kv SET value = '{"x":1}' WHERE namespace = 'models' AND key = 'iris2';
            """)
        let check = try await scratch.redml("store", "check", "--json")
        let integrity = try #require(try check.jsonObject()["integrity"] as? [String: Any])
        let problems = try #require(integrity["problems"] as? [[String: Any]])
        let found = problems.map { "\($0["code"] ?? "")|\($0["message"] ?? "")" }
        #expect(found.contains { $0.hasPrefix("corrupt_value|models/iris:") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("unreadable_record|") && $0.contains("models/iris2:") }, "\(found)")
        #expect(found.count == 2, "\(found)")
    }

    @Test("a store whose file is damaged is refused with advice to check and restore it")
    func damagedFileAdvice() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        expectSuccess(try await scratch.redml("store", "backup", "whole.sqlite"))
        let whole = try Data(contentsOf: URL(fileURLWithPath: scratch.path("whole.sqlite")))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: scratch.path("half.sqlite")))
        let listed = try await scratch.redml("models", "list", "--store", "half.sqlite")
        expectCleanFailure(listed, mentioning: "redml store check")
        #expect(!listed.stderr.contains("disk has room"), "\(listed)")
        // A file that is no database at all: no check can read it, so none is advised.
        try Data(String(repeating: "not a database ", count: 300).utf8).write(to: scratch.url.appendingPathComponent("w.bin"))
        let checked = try await scratch.redml("store", "check", "--store", "w.bin")
        expectCleanFailure(checked, mentioning: "the file is not a SQLite database")
        #expect(!checked.stderr.contains("run `redml store check`"), "\(checked)")
    }

    @Test("a directory where a file belongs is named as such, for the option that names it")
    func directoriesWhereFilesBelong() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        try FileManager.default.createDirectory(atPath: scratch.path("adir"), withIntermediateDirectories: true)
        let backup = try await scratch.redml("store", "backup", "adir")
        #expect(backup.status == 64 && backup.stderr.contains("adir is a directory"), "\(backup)")
        let download = try await scratch.redml("models", "download", "iris", "--out", "adir")
        #expect(download.status == 64 && download.stderr.contains("--out adir is a directory"), "\(download)")
        let empty = try await scratch.redml("models", "download", "iris", "--out", "")
        #expect(empty.status == 64 && empty.stderr.contains("--out is empty"), "\(empty)")
        let register = try await scratch.redml("models", "register", "x", "--weights", "adir")
        expectCleanFailure(register, mentioning: "--weights adir is a directory")
    }

    @Test("a store written by a newer RedML is refused with one clear line")
    func newerSchemaRefused() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        try scratch.sqlite3("redml.sqlite", "PRAGMA user_version = 99")
        for arguments in [["store", "info"], ["demo"], ["store", "migrate"]] {
            let result = try await RedMLExecutable.run(arguments, in: scratch.url)
            expectCleanFailure(result, mentioning: "newer RedML")
            #expect(result.stderr.contains("schema 99"), "\(result)")
        }
    }

    @Test("migrate creates a store and reports its schema version")
    func migrate() async throws {
        let scratch = try ScratchDirectory()
        let first = try await scratch.redml("store", "migrate", "--json")
        expectSuccess(first)
        let object = try first.jsonObject()
        #expect((object["schema_version"] as? NSNumber)?.intValue == SQLiteMLPersistence.schemaVersion)
        #expect(object["created"] as? Bool == true)
        let second = try await scratch.redml("store", "migrate")
        expectSuccess(second)
        #expect(second.stdout.contains("is at schema \(SQLiteMLPersistence.schemaVersion)"), "\(second)")
    }

    @Test("info counts entries per namespace and blobs")
    func info() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        expectSuccess(try await scratch.redml("demo"))
        let info = try await scratch.redml("store", "info", "--json")
        expectSuccess(info)
        let object = try info.jsonObject()
        let contents = try #require(object["contents"] as? [String: Any])
        let entries = try #require(contents["entries"] as? [String: Any])
        #expect((entries[MLNamespace.models] as? NSNumber)?.intValue == 1)
        #expect((entries[MLNamespace.modelVersions] as? NSNumber)?.intValue == 2)
        #expect((entries[MLNamespace.jobs] as? NSNumber)?.intValue == 2)
        // Training is deterministic: both versions have the same weights, stored once.
        #expect((contents["blobs"] as? NSNumber)?.intValue == 1)
        let text = try await scratch.redml("store", "info")
        expectSuccess(text)
        #expect(text.stdout.contains("model_versions  2"), "\(text)")
    }

    @Test("commands that inspect a store do not create a missing one")
    func missingStore() async throws {
        let scratch = try ScratchDirectory()
        for arguments in [["store", "info"], ["store", "check"], ["store", "backup", "b.sqlite"]] {
            let result = try await RedMLExecutable.run(arguments + ["--store", "missing.sqlite"], in: scratch.url)
            expectCleanFailure(result, mentioning: "no store at missing.sqlite")
        }
        #expect(!scratch.exists("missing.sqlite"))
    }

    @Test("commands that only read refuse an empty file instead of making it a store")
    func emptyFileIsNotAStore() async throws {
        let scratch = try ScratchDirectory()
        FileManager.default.createFile(atPath: scratch.path("empty.sqlite"), contents: Data())
        for arguments in [["store", "info"], ["store", "check"], ["models", "list"], ["jobs", "list"]] {
            let result = try await RedMLExecutable.run(arguments + ["--store", "empty.sqlite"], in: scratch.url)
            expectCleanFailure(result, mentioning: "empty.sqlite is an empty file, not a store")
        }
        let size = try FileManager.default.attributesOfItem(atPath: scratch.path("empty.sqlite"))[.size] as? NSNumber
        #expect(size?.intValue == 0, "the empty file was written to")
        // A command that writes may still make one there.
        expectSuccess(try await RedMLExecutable.run(["store", "migrate", "--store", "empty.sqlite"], in: scratch.url))
        expectSuccess(try await RedMLExecutable.run(["store", "info", "--store", "empty.sqlite"], in: scratch.url))
    }

    @Test("an empty backup path is refused, not taken as SQLite's temporary database")
    func emptyBackupPaths() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        let backup = try await scratch.redml("store", "backup", "")
        #expect(backup.status == 64 && backup.stderr.contains("the backup path is empty"), "\(backup)")
        let restore = try await scratch.redml("store", "restore", "")
        #expect(restore.status == 64 && restore.stderr.contains("the backup path is empty"), "\(restore)")
        try FileManager.default.createDirectory(atPath: scratch.path("adir"), withIntermediateDirectories: true)
        let directory = try await scratch.redml("store", "restore", "adir")
        #expect(directory.status == 64 && directory.stderr.contains("adir is a directory"), "\(directory)")
    }

    @Test("a path that begins with file: names that very file, not the file SQLite would read it as a URI for")
    func fileColonPathsAreLiteral() async throws {
        let scratch = try ScratchDirectory()
        let migrate = try await scratch.redml("store", "migrate", "--store", "file:s.sqlite")
        expectSuccess(migrate)
        #expect(scratch.exists("file:s.sqlite") && !scratch.exists("s.sqlite"), "\(migrate)")
        expectSuccess(try await scratch.redml("jobs", "submit", "train", "iris", "--store", "file:s.sqlite"))
        let info = try await scratch.redml("store", "info", "--store", "file:s.sqlite", "--json")
        expectSuccess(info)
        let entries = try #require((try info.jsonObject()["contents"] as? [String: Any])?["entries"] as? [String: Any])
        #expect((entries[MLNamespace.jobs] as? NSNumber)?.intValue == 1, "\(info)")

        let backup = try await scratch.redml("store", "backup", "file:b.sqlite", "--store", "file:s.sqlite")
        expectSuccess(backup)
        #expect(scratch.exists("file:b.sqlite") && !scratch.exists("b.sqlite"), "\(backup)")
        expectSuccess(try await scratch.redml("store", "restore", "file:b.sqlite", "--store", "file:s.sqlite"))
    }

    @Test("a restore refused for a missing backup does not create the store it would have restored")
    func restoreFromMissingBackupCreatesNothing() async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("store", "restore", "absent.sqlite", "--store", "new.sqlite")
        expectCleanFailure(result, mentioning: "backup file absent.sqlite does not exist")
        #expect(!scratch.exists("new.sqlite"))
    }

    @Test("restoring from a file that is not a backup leaves the store alone")
    func restoreRefusesBadBackup() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("demo"))
        try Data("not a database".utf8).write(to: scratch.url.appendingPathComponent("junk.sqlite"))
        expectCleanFailure(try await scratch.redml("store", "restore", "junk.sqlite"), mentioning: "cannot restore")
        expectCleanFailure(try await scratch.redml("store", "restore", "absent.sqlite"), mentioning: "does not exist")
        let check = try await scratch.redml("store", "check")
        expectSuccess(check)
    }
}
