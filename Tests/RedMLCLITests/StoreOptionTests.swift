import Foundation
import Testing

@Suite("--store and REDML_STORE")
struct StoreOptionTests {
    @Test("an unreachable postgres:// store fails with one clear line, without the password",
          arguments: [["models", "list"], ["jobs", "list"], ["store", "migrate"]])
    func unreachablePostgres(command: [String]) async throws {
        let scratch = try ScratchDirectory()
        let result = try await RedMLExecutable.run(
            command + ["--store", "postgres://redml:secret@127.0.0.1:1/redml?sslmode=disable"], in: scratch.url,
            environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": "1"])
        expectCleanFailure(result, mentioning: "127.0.0.1")
        #expect(!result.stderr.contains("secret"), "\(result)")
        #expect(result.stdout.isEmpty)
    }

    /// PostgresNIO gives a connection attempt 10 s and cannot cancel one in
    /// flight; a command that waits less must not be held for the rest.
    @Test("a server that never answers: the command gives up at its own timeout, not the driver's 10 s")
    func silentServer() async throws {
        let silent = try SilentPort()
        defer { silent.close() }
        try await Task.sleep(for: .milliseconds(200))  // the fillers' handshakes, which fill its queue
        let scratch = try ScratchDirectory()
        let started = ContinuousClock.now
        let result = try await scratch.redml(
            "jobs", "list", "--store", "postgres://redml:secret@127.0.0.1:\(silent.port)/redml?sslmode=disable",
            environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": "3"])
        let waited = ContinuousClock.now - started
        expectCleanFailure(result, mentioning: "within 3.0 s (no answer from 127.0.0.1:\(silent.port) within")
        #expect(waited < .seconds(8), "the command took \(waited) for a 3 s timeout")
    }

    /// The probe keeps a margin before the timeout only when there is room
    /// for one: a short timeout must still name a server that refuses at once.
    @Test("a short connect timeout still names a refused connection")
    func shortTimeoutNamesARefusal() async throws {
        let result = try await ScratchDirectory().redml(
            "jobs", "list", "--store", "postgres://redml:secret@127.0.0.1:1/redml?sslmode=disable",
            environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": "1.5"])
        expectCleanFailure(result, mentioning: "within 1.5 s (connection refused at 127.0.0.1:1)")
    }

    @Test("a connect timeout that is not a positive number is named and ignored", arguments: ["abc", "-1"])
    func badConnectTimeout(value: String) async throws {
        let result = try await ScratchDirectory().redml(
            "jobs", "list", "--store", "postgres://redml:secret@127.0.0.1:1/redml?sslmode=disable",
            environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": value])
        #expect(result.stderr.contains(
            "REDML_POSTGRES_CONNECT_TIMEOUT='\(value)' is not a positive number of seconds, so it is ignored"),
            "\(result)")
        #expect(result.stderr.contains("within 10.0 s"), "\(result)")
    }

    @Test("a libpq connection string is refused without echoing it, and no file is made of it")
    func libpqConnectionString() async throws {
        let scratch = try ScratchDirectory()
        for conninfo in ["host=127.0.0.1 port=1 user=redml password=hunter2 dbname=redml",
                         "host = db user = redml password = hunter2"] {
            for command in [["jobs", "list"], ["store", "migrate"]] {
                let result = try await RedMLExecutable.run(command + ["--store", conninfo], in: scratch.url)
                expectCleanFailure(result, mentioning: "looks like a libpq connection string")
                #expect(!result.stderr.contains("hunter2"), "\(result)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }

    @Test("memory: followed by anything, or in capitals, is refused rather than made a file of that name")
    func memoryLookalikes() async throws {
        let scratch = try ScratchDirectory()
        for store in ["memory:foo", "MEMORY:", "Memory:x"] {
            for command in [["jobs", "list"], ["store", "migrate"]] {
                let result = try await RedMLExecutable.run(command + ["--store", store], in: scratch.url)
                expectCleanFailure(result, mentioning: "--store '\(store)' is neither memory:")
                #expect(result.status == 64, "\(result)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
        // A file whose name begins so is still reachable by a path.
        expectSuccess(try await scratch.redml("store", "migrate", "--store", "./memory:foo"))
        #expect(scratch.exists("memory:foo"))
    }

    @Test("a URL a password character breaks says to percent-encode it; an upper-case scheme is PostgreSQL's")
    func urlSpelling() async throws {
        let scratch = try ScratchDirectory()
        let broken = try await scratch.redml("jobs", "list", "--store", "postgres://redml:pa/ss@127.0.0.1:1/redml")
        expectCleanFailure(broken, mentioning: "percent-encode")
        #expect(!broken.stderr.contains("pa/ss"), "\(broken)")
        // Read as host "redml", port 1234 and path "/x@…": the password shows in no part of the message.
        let misread = try await scratch.redml("jobs", "list", "--store", "postgres://redml:1234/x@127.0.0.1:1/redml")
        expectCleanFailure(misread, mentioning: "percent-encode")
        #expect(!misread.stderr.contains("1234/x"), "\(misread)")
        let upper = try await scratch.redml(
            "jobs", "list", "--store", "POSTGRES://redml:secret@127.0.0.1:1/redml?sslmode=disable",
            environment: ["REDML_POSTGRES_CONNECT_TIMEOUT": "4"])
        expectCleanFailure(upper, mentioning: "within 4.0 s (connection refused at 127.0.0.1:1)")
    }

    @Test("the top-level help names every kind of store --store takes")
    func helpNamesEveryStore() async throws {
        let scratch = try ScratchDirectory()
        let help = try await scratch.redml("--help")
        expectSuccess(help)
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("a SQLite file path, a postgres://user:pass@host:port/db URL, or memory:"), "\(help)")
    }

    @Test("a store URL with another scheme is refused")
    func otherScheme() async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("models", "list", "--store", "mysql://db/redml")
        expectCleanFailure(result, mentioning: "unsupported store URL scheme 'mysql://'")
    }

    @Test("REDML_STORE names the store when --store is not given")
    func environmentVariable() async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("demo", "--json", environment: ["REDML_STORE": "from-env.sqlite"])
        expectSuccess(result)
        #expect(try result.jsonObject()["store"] as? String == "from-env.sqlite")
        #expect(scratch.exists("from-env.sqlite"))
        #expect(!scratch.exists("redml.sqlite"))

        let info = try await scratch.redml("store", "info", "--json", environment: ["REDML_STORE": "from-env.sqlite"])
        expectSuccess(info)
        let override = try await scratch.redml(
            "demo", "--json", "--store", "flag.sqlite", environment: ["REDML_STORE": "from-env.sqlite"])
        expectSuccess(override)
        #expect(try override.jsonObject()["store"] as? String == "flag.sqlite")
        let postgres = try await scratch.redml("store", "info", environment: ["REDML_STORE": "postgresql://db/redml"])
        expectCleanFailure(postgres, mentioning: "PostgreSQL URL postgresql://db/redml: no user name")
    }

    @Test("backup and restore need a SQLite store", arguments: [
        ["store", "backup", "b.sqlite"], ["store", "restore", "b.sqlite"],
    ])
    func memoryStoreRefused(command: [String]) async throws {
        let scratch = try ScratchDirectory()
        let result = try await RedMLExecutable.run(command + ["--store", "memory:"], in: scratch.url)
        expectCleanFailure(result, mentioning: "needs a SQLite store")
    }

    @Test("backup and restore refuse a PostgreSQL store before connecting to it, and say what does the job there",
          arguments: [(["store", "backup", "b.sqlite"], "pg_dump"), (["store", "restore", "b.sqlite"], "pg_restore")])
    func postgresStoreRefused(command: [String], alternative: String) async throws {
        let scratch = try ScratchDirectory()
        // Port 1 refuses connections: a command that tried one would report that instead.
        let result = try await RedMLExecutable.run(
            command + ["--store", "postgres://redml:secret@127.0.0.1:1/redml?sslmode=disable"], in: scratch.url)
        expectCleanFailure(result, mentioning: "needs a SQLite store")
        #expect(result.stderr.contains("(for PostgreSQL, "), "\(result)")
        #expect(result.stderr.contains(alternative), "\(result)")
    }
}

@Suite("A new store is announced")
struct StoreCreationNoticeTests {
    @Test("train on a path with no store says it created one, once; demo and store migrate do not")
    func trainAnnouncesANewStore() async throws {
        let scratch = try ScratchDirectory()
        let first = try await scratch.redml(
            "train", "--data", "builtin:iris", "--model", "m", "--json", "--store", "typo.sqlite")
        expectSuccess(first)
        #expect(first.stderr.contains("created a new, empty store at typo.sqlite"), "\(first)")
        _ = try first.jsonObject()  // stdout is still one JSON object
        let second = try await scratch.redml(
            "train", "--data", "builtin:iris", "--model", "m", "--json", "--store", "typo.sqlite")
        expectSuccess(second)
        #expect(!second.stderr.contains("created"), "\(second)")

        let demo = try await scratch.redml("demo", "--json", "--store", "demo.sqlite")
        expectSuccess(demo)
        #expect(!demo.stderr.contains("created a new"), "\(demo)")
        let migrate = try await scratch.redml("store", "migrate", "--store", "migrated.sqlite")
        expectSuccess(migrate)
        #expect(!migrate.stderr.contains("created a new"), "\(migrate)")
    }
}
