import Foundation
import RedML
import Testing

@Suite("redml models")
struct ModelsCommandTests {
    /// Writes `count` deterministic bytes to `name` in the scratch folder.
    private func weights(_ scratch: ScratchDirectory, _ name: String, count: Int, seed: UInt8) throws -> Data {
        let data = Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed })
        try data.write(to: scratch.url.appendingPathComponent(name))
        return data
    }

    /// Registers `file` as a new version of `model` and returns its number.
    private func register(
        _ scratch: ScratchDirectory, _ model: String, _ file: String, _ extra: String...,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Int {
        let result = try await RedMLExecutable.run(
            ["models", "register", model, "--weights", file, "--store", "s.sqlite"] + extra, in: scratch.url)
        expectSuccess(result, sourceLocation: sourceLocation)
        return try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(result)",
                            sourceLocation: sourceLocation)
    }

    @Test("registering twice from a file makes versions 1 and 2, listed in text and JSON")
    func registerTwiceAndList() async throws {
        let scratch = try ScratchDirectory()
        let first = try weights(scratch, "a.bin", count: 300_000, seed: 1)
        _ = try weights(scratch, "b.bin", count: 1_000, seed: 2)
        #expect(try await register(scratch, "iris", "a.bin", "--metrics", #"{"accuracy": 0.91}"#) == 1)
        #expect(try await register(scratch, "iris", "b.bin", "--hyperparams", #"{"lr": 0.1}"#, "--parent", "1") == 2)

        let text = try await scratch.redml("models", "versions", "iris", "--store", "s.sqlite")
        expectSuccess(text)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 3, "\(text)")
        #expect(lines.first?.hasPrefix("VERSION") == true)
        #expect(lines[1].hasPrefix("1 "), "\(text)")
        #expect(lines[1].contains("accuracy=0.91"), "\(text)")
        #expect(lines[2].hasPrefix("2 "), "\(text)")
        #expect(lines[2].contains("active"), "\(text)")
        #expect(lines[2].contains("1000 bytes"), "\(text)")

        let json = try await scratch.redml("models", "versions", "iris", "--store", "s.sqlite", "--json")
        expectSuccess(json)
        let versions = try #require(try json.jsonObject()["versions"] as? [[String: Any]])
        #expect(versions.map { ($0["version"] as? NSNumber)?.intValue } == [1, 2])
        #expect((versions[0]["weights_size"] as? NSNumber)?.intValue == first.count)
        #expect((versions[1]["parent_version"] as? NSNumber)?.intValue == 1)
        #expect(((versions[1]["hyperparameters"] as? [String: Any])?["lr"] as? NSNumber)?.doubleValue == 0.1)

        let list = try await scratch.redml("models", "list", "--store", "s.sqlite")
        expectSuccess(list)
        #expect(list.stdout.split(separator: "\n").last?.split(separator: " ", omittingEmptySubsequences: true)
            .map(String.init) == ["iris", "2", "2", "0", "-"], "\(list)")
    }

    @Test("activate, alias, archive and unarchive move the pointers; an archived version cannot be activated")
    func pointerFlows() async throws {
        let scratch = try ScratchDirectory()
        _ = try weights(scratch, "w.bin", count: 64, seed: 3)
        for _ in 0..<3 { _ = try await register(scratch, "iris", "w.bin") }
        let store = ["--store", "s.sqlite"]
        func run(_ arguments: String...) async throws -> RedMLResult {
            try await RedMLExecutable.run(arguments + store, in: scratch.url)
        }

        let activate = try await run("models", "activate", "iris", "1")
        expectSuccess(activate)
        #expect(activate.stdout.contains("activated version 1 of 'iris' (was version 3)"), "\(activate)")
        let alias = try await run("models", "alias", "iris", "champion", "2")
        expectSuccess(alias)
        #expect(alias.stdout.contains("now points at version 2"), "\(alias)")

        // A built-in alias's spelling in another case is refused by the registry's own rule.
        expectCleanFailure(try await run("models", "alias", "iris", "Latest", "2"),
                           mentioning: "alias 'Latest' of model 'iris' differs from the built-in alias 'latest' only in case")

        expectCleanFailure(try await run("models", "archive", "iris", "2"), mentioning: "--force")
        expectSuccess(try await run("models", "archive", "iris", "3"))
        let archivedActivate = try await run("models", "activate", "iris", "3")
        expectCleanFailure(archivedActivate, mentioning: "version 3 of model 'iris' is archived")
        #expect(archivedActivate.stderr.contains("redml models unarchive iris 3"), "\(archivedActivate)")

        expectSuccess(try await run("models", "archive", "iris", "2", "--force"))
        let show = try await run("models", "show", "iris", "--json")
        expectSuccess(show)
        let model = try #require(try show.jsonObject()["model"] as? [String: Any])
        #expect((model["active_version"] as? NSNumber)?.intValue == 1)
        #expect((model["aliases"] as? [String: Any])?.isEmpty == true)
        #expect((model["archived_count"] as? NSNumber)?.intValue == 2)

        let unarchive = try await run("models", "unarchive", "iris", "3")
        expectSuccess(unarchive)
        #expect(unarchive.stdout.contains("unarchived version 3"), "\(unarchive)")
        expectSuccess(try await run("models", "activate", "iris", "3"))
        let text = try await run("models", "show", "iris")
        expectSuccess(text)
        #expect(text.stdout.contains("active          version 3"), "\(text)")
        #expect(text.stdout.contains("3 (latest 3, 1 archived)"), "\(text)")
    }

    @Test("download writes the verified weights, of the active version by default")
    func downloadRoundTrip() async throws {
        let scratch = try ScratchDirectory()
        let first = try weights(scratch, "one.bin", count: 200_000, seed: 4)
        let second = try weights(scratch, "two.bin", count: 70_001, seed: 5)
        _ = try await register(scratch, "iris", "one.bin")
        _ = try await register(scratch, "iris", "two.bin")

        let active = try await scratch.redml("models", "download", "iris", "--out", "active.bin", "--store", "s.sqlite")
        expectSuccess(active)
        #expect(try Data(contentsOf: scratch.url.appendingPathComponent("active.bin")) == second)
        let old = try await scratch.redml(
            "models", "download", "iris", "1", "--out", "active.bin", "--store", "s.sqlite", "--json")
        expectSuccess(old)
        #expect((try old.jsonObject()["bytes"] as? NSNumber)?.intValue == first.count)
        #expect(try Data(contentsOf: scratch.url.appendingPathComponent("active.bin")) == first)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)

        let missing = try await scratch.redml("models", "download", "iris", "7", "--out", "x.bin", "--store", "s.sqlite")
        expectCleanFailure(missing, mentioning: "unknown version 7 for model 'iris' (latest is 2)")
        #expect(!scratch.exists("x.bin"))
        let noStore = try await scratch.redml("models", "download", "iris", "--out", "x.bin", "--store", "absent.sqlite")
        expectCleanFailure(noStore, mentioning: "no store at absent.sqlite")
        let noDirectory = try await scratch.redml("models", "download", "iris", "--out", "nodir/x.bin", "--store", "s.sqlite")
        expectCleanFailure(noDirectory, mentioning: "cannot write nodir/x.bin: directory")
        #expect(noDirectory.status == 64, "\(noDirectory)")
        let refusedLeftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter { $0.contains("partial") }
        #expect(refusedLeftovers.isEmpty, "a refused download left its temporary file behind")
    }

    @Test("history lists every change, oldest first, with the CLI as actor")
    func history() async throws {
        let scratch = try ScratchDirectory()
        _ = try weights(scratch, "w.bin", count: 10, seed: 6)
        _ = try await register(scratch, "iris", "w.bin", "--no-activate")
        expectSuccess(try await scratch.redml("models", "alias", "iris", "staging", "1", "--store", "s.sqlite"))
        let json = try await scratch.redml("models", "history", "iris", "--store", "s.sqlite", "--json")
        expectSuccess(json)
        let events = try #require(try json.jsonObject()["events"] as? [[String: Any]])
        #expect(events.map { $0["kind"] as? String } == ["registered", "alias_moved"])
        #expect(events.allSatisfy { ($0["actor"] as? String)?.hasPrefix("cli") == true })
        let text = try await scratch.redml("models", "history", "iris", "--store", "s.sqlite")
        expectSuccess(text)
        #expect(text.stdout.split(separator: "\n").count == 3, "\(text)")
        #expect(text.stdout.contains("alias_moved"), "\(text)")
    }

    @Test("mistakes fail with one line that says what to do")
    func errors() async throws {
        let scratch = try ScratchDirectory()
        _ = try weights(scratch, "w.bin", count: 10, seed: 7)
        for _ in 0..<3 { _ = try await register(scratch, "iris", "w.bin") }
        let unknownVersion = try await scratch.redml("models", "activate", "iris", "9", "--store", "s.sqlite")
        expectCleanFailure(unknownVersion, mentioning: "unknown version 9 for model 'iris' (latest is 3)")
        #expect(unknownVersion.status == 1)
        expectCleanFailure(
            try await scratch.redml("models", "show", "x", "--store", "s.sqlite"),
            mentioning: "unknown model 'x'; list models with `redml models list`")
        let badJSON = try await scratch.redml(
            "models", "register", "iris", "--weights", "w.bin", "--hyperparams", #"{"lr": 0.1,, }"#, "--store", "s.sqlite")
        expectCleanFailure(badJSON, mentioning: "invalid JSON for --hyperparams")
        #expect(badJSON.stderr.contains("line 1, column 12"), "\(badJSON)")
        expectCleanFailure(
            try await scratch.redml("models", "register", "iris", "--weights", "nope.bin", "--store", "s.sqlite"),
            mentioning: "weights file nope.bin does not exist")
        expectCleanFailure(
            try await scratch.redml("models", "list", "--store", "absent.sqlite"), mentioning: "no store at absent.sqlite")
        // A parent of a model that does not exist yet: no `models versions` to suggest, it would fail.
        let newModelParent = try await scratch.redml(
            "models", "register", "fresh", "--weights", "w.bin", "--parent", "1", "--store", "s.sqlite")
        expectCleanFailure(newModelParent, mentioning: "parent version 1 of model 'fresh' does not exist")
        #expect(newModelParent.stderr.contains("model 'fresh' has no versions yet"), "\(newModelParent)")
        #expect(!newModelParent.stderr.contains("redml models versions"), "\(newModelParent)")
        let parent = try await scratch.redml(
            "models", "register", "iris", "--weights", "w.bin", "--parent", "9", "--store", "s.sqlite")
        expectCleanFailure(parent, mentioning: "(latest is 3); list its versions with `redml models versions iris`")
    }

    @Test("a registration refused for its own fields fails with one line and creates no store")
    func refusedRegistrationCreatesNoStore() async throws {
        let scratch = try ScratchDirectory()
        _ = try weights(scratch, "w.bin", count: 10, seed: 9)
        for (name, text) in [("a/b", "model name 'a/b' contains '/'"), ("", "model name must be 1–255 characters")] {
            let result = try await scratch.redml("models", "register", name, "--weights", "w.bin", "--store", "s.sqlite")
            expectCleanFailure(result, mentioning: text)
        }
        #expect(!scratch.exists("s.sqlite"), "a refused registration created the store")
    }

    @Test("--json prints one JSON object for every list and show command")
    func jsonEverywhere() async throws {
        let scratch = try ScratchDirectory()
        _ = try weights(scratch, "w.bin", count: 10, seed: 8)
        _ = try await register(scratch, "iris", "w.bin")
        let commands: [[String]] = [
            ["models", "list"], ["models", "show", "iris"], ["models", "versions", "iris"], ["models", "history", "iris"],
            ["models", "register", "iris", "--weights", "w.bin"], ["models", "activate", "iris", "1"],
            ["models", "alias", "iris", "a", "1"], ["models", "archive", "iris", "2"], ["models", "unarchive", "iris", "2"],
            ["models", "download", "iris", "--out", "d.bin"],
        ]
        for command in commands {
            let result = try await RedMLExecutable.run(command + ["--store", "s.sqlite", "--json"], in: scratch.url)
            expectSuccess(result)
            #expect(result.stdout.split(separator: "\n").count == 1, "\(command): \(result)")
            _ = try result.jsonObject()
        }
    }
}
