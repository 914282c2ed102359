import Foundation
import RedML
import RedMLHTTP
import RedMLTestFixtures
import RedMLTesting
import Testing

/// The model, version, pointer and history routes, on every backend.
@Suite("Model routes")
struct ModelRouteTests {
    @Test(arguments: Backends.allFixtures())
    func registerListAndReadVersions(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await h.run { client in
            let weights = Data("hello weights".utf8)
            let created = try await client.send(.post, "/v1/models/spam/versions", json: [
                "weights_base64": .string(weights.base64EncodedString()),
                "hyperparameters": ["lr": 0.01], "metrics": ["accuracy": 0.97],
                "created_by": "alice", "description": "first", "tags": ["env": "prod"],
            ])
            #expect(created.status == .created)
            #expect(created.json.int("version") == 1)
            #expect(created.json.string("created_by") == "alice")
            #expect(created.json["metrics"] == ["accuracy": 0.97])
            #expect(created.json["weights_base64"] == nil)
            for _ in 2...5 { try await h.register("spam") }

            let first = try await client.get("/v1/models/spam/versions?limit=2")
            #expect(first.status == .ok)
            #expect(first.json.objects("versions").compactMap { $0.int("version") } == [1, 2])
            #expect(first.json.string("next_cursor") == "2")
            let second = try await client.get("/v1/models/spam/versions?limit=2&cursor=2")
            #expect(second.json.objects("versions").compactMap { $0.int("version") } == [3, 4])
            let newest = try await client.get("/v1/models/spam/versions?order=newest&limit=1")
            #expect(newest.json.objects("versions").compactMap { $0.int("version") } == [5])
            let tagged = try await client.get("/v1/models/spam/versions?tag=env%3Dprod")
            #expect(tagged.json.objects("versions").compactMap { $0.int("version") } == [1])

            let one = try await client.get("/v1/models/spam/versions/1")
            #expect(one.status == .ok)
            #expect(one.json.string("description") == "first")
            #expect(one.json.int("weights_size") == Int64(weights.count))

            let model = try await client.get("/v1/models/spam")
            #expect(model.json.int("latest_version") == 5)
            #expect(model.json.int("active_version") == 5)
            #expect(model.json.int("version_count") == 5)
            guard case .object(let active)? = model.json["active"] else {
                Issue.record("no active version in \(model.text)")
                return
            }
            #expect(active.int("version") == 5)

            let models = try await client.get("/v1/models")
            #expect(models.json.objects("models").compactMap { $0.string("name") } == ["spam"])
            #expect(models.json["next_cursor"] == .null)
        }
    }

    /// Registrations record the `RedML-Actor` header, as every other change does, in every form.
    @Test func registrationsRecordTheActorHeader() async throws {
        let h = try await Harness()
        try await h.run { client in
            let json = try await client.send(.post, "/v1/models/spam/versions", json: ["weights_base64": "YQ=="],
                                             headers: [.init("RedML-Actor")!: "carol"])
            #expect(json.status == .created)
            #expect(json.json.string("created_by") == "carol")
            let streamed = try await client.send(.post, "/v1/models/spam/versions", bytes: [1, 2, 3], headers: [.init("RedML-Actor")!: "dan"])
            #expect(streamed.status == .created)
            #expect(streamed.json.string("created_by") == "dan")
            let put = try await client.send(.put, "/v1/models/spam/versions/3/weights", bytes: [4], headers: [.init("RedML-Actor")!: "erin"])
            #expect(put.status == .created)
            #expect(put.json.string("created_by") == "erin")
            // `created_by` in the body wins over the header.
            let both = try await client.send(.post, "/v1/models/spam/versions",
                                             json: ["weights_base64": "Yg==", "created_by": "ci"], headers: [.init("RedML-Actor")!: "frank"])
            #expect(both.json.string("created_by") == "ci")
        }
        let registered = try await h.registry.history(of: "spam", MLHistoryQuery(kinds: [.registered]))
        #expect(registered.events.map(\.actor) == ["carol", "dan", "erin", "ci"])
    }

    /// Header bytes that are not UTF-8 arrive as U+FFFD: refused, and nothing is stored.
    @Test func headersThatAreNotUTF8AreRefused() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let patch = try await client.send(.patch, "/v1/models/spam", json: ["description": "d"],
                                              headers: [.init("RedML-Actor")!: "caf\u{FFFD}"])
            #expect(patch.status == .badRequest)
            #expect(patch.errorMessage.contains("RedML-Actor"))
            #expect(patch.errorMessage.contains("UTF-8"))
            let upload = try await client.send(.post, "/v1/models/spam/versions", bytes: [1],
                                               headers: [.init("RedML-Registration")!: #"{"description":"caf\#u{FFFD}"}"#])
            #expect(upload.status == .badRequest)
            #expect(upload.errorMessage.contains("RedML-Registration"))
        }
        #expect(try await h.registry.model("spam").description == nil)
        #expect(try await h.registry.versions(of: "spam").versions.count == 1)
    }

    @Test func updatesModelAndVersionMetadata() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let model = try await client.send(.patch, "/v1/models/spam", json: ["description": "filters", "tags": ["team": "ml"]],
                                              headers: [.init("RedML-Actor")!: "bob"])
            #expect(model.status == .ok)
            #expect(model.json.string("description") == "filters")
            let version = try await client.send(.patch, "/v1/models/spam/versions/1", json: ["tags": ["stage": "canary"]])
            #expect(version.status == .ok)
            #expect(version.json["tags"] == ["stage": "canary"])
            let tagged = try await client.get("/v1/models?tag=team")
            #expect(tagged.json.objects("models").count == 1)
            let untagged = try await client.get("/v1/models?tag=nothing")
            #expect(untagged.json.objects("models").isEmpty)
        }
        let history = try await h.registry.history(of: "spam", MLHistoryQuery(kinds: [.modelUpdated]))
        #expect(history.events.map(\.actor) == ["bob"])
    }

    /// A PATCH's `null` is never a silent "leave it": `"description": null`
    /// (what a GET shows for none) clears the description, and `"tags": null`
    /// is refused, changing nothing, since `{}` is how the tags are cleared.
    @Test func patchNullClearsTheDescriptionAndRefusesNullTags() async throws {
        let h = try await Harness()
        try await h.register("spam")
        _ = try await h.registry.updateModel("spam", description: "filters", tags: ["team": "ml"])
        _ = try await h.registry.updateVersion("spam", version: 1, description: "first", tags: ["stage": "canary"])
        try await h.run { client in
            for path in ["/v1/models/spam", "/v1/models/spam/versions/1"] {
                let cleared = try await client.send(.patch, path, json: ["description": .null])
                #expect(cleared.status == .ok, "\(path)")
                #expect(cleared.json["description"] == .null, "\(path): \(cleared.text)")
                #expect(cleared.json["tags"] != [:], "\(path): the tags stay")

                let nullTags = try await client.send(.patch, path, json: ["description": "changed", "tags": .null])
                #expect(nullTags.status == .badRequest, "\(path)")
                #expect(nullTags.errorCode == "invalid_field", "\(path)")
                #expect(nullTags.errorMessage.contains("tags"), "\(path): \(nullTags.errorMessage)")
            }
        }
        let model = try await h.registry.model("spam")
        #expect(model.description == nil)
        #expect(model.tags == ["team": "ml"])
        let version = try await h.registry.version("spam", 1)
        #expect(version.description == nil)
        #expect(version.tags == ["stage": "canary"])
    }

    @Test(arguments: Backends.allFixtures())
    func activatesRollsBackAndDeactivates(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await h.register("spam")
        try await h.register("spam")
        try await h.run { client in
            #expect(try await client.get("/v1/models/spam/active").json.int("version") == 2)
            let rolledBack = try await client.send(.put, "/v1/models/spam/active", json: ["version": 1])
            #expect(rolledBack.status == .ok)
            #expect(rolledBack.json.int("version") == 1)
            #expect(try await client.get("/v1/models/spam/active").json.int("version") == 1)

            let cleared = try await client.send(.delete, "/v1/models/spam/active")
            #expect(cleared.status == .noContent)
            let none = try await client.get("/v1/models/spam/active")
            #expect(none.status == .notFound)
            #expect(none.errorCode == "no_active_version")
            #expect(none.errorMessage.contains("spam"))
        }
        #expect(try await h.registry.activeVersion(of: "spam") == nil)
    }

    @Test(arguments: Backends.allFixtures())
    func aliasesMoveByCompareAndSwap(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        for _ in 1...3 { try await h.register("spam") }
        try await h.run { client in
            let created = try await client.send(.put, "/v1/models/spam/aliases/champion", json: ["version": 1, "expected": "absent"])
            #expect(created.status == .ok)
            #expect(try await client.get("/v1/models/spam/aliases/champion").json.int("version") == 1)

            let moved = try await client.send(.put, "/v1/models/spam/aliases/champion", json: ["version": 2, "expected": 1])
            #expect(moved.status == .ok)

            // Stale: the alias is at 2 now, not 1.
            let stale = try await client.send(.put, "/v1/models/spam/aliases/champion", json: ["version": 3, "expected": 1])
            #expect(stale.status == .conflict)
            #expect(stale.errorCode == "alias_conflict")
            let absent = try await client.send(.put, "/v1/models/spam/aliases/champion", json: ["version": 3, "expected": nil])
            #expect(absent.status == .conflict)
            #expect(try await client.get("/v1/models/spam/aliases/champion").json.int("version") == 2)

            let staleRemove = try await client.send(.delete, "/v1/models/spam/aliases/champion?expected=1")
            #expect(staleRemove.status == .conflict)
            let removed = try await client.send(.delete, "/v1/models/spam/aliases/champion?expected=2")
            #expect(removed.status == .noContent)
            let gone = try await client.get("/v1/models/spam/aliases/champion")
            #expect(gone.status == .notFound)
            #expect(gone.errorCode == "unknown_alias")
            #expect(try await client.get("/v1/models/spam/aliases/latest").json.int("version") == 3)
        }
        #expect(try await h.registry.model("spam").aliases == [:])
    }

    @Test func anAliasSpeltLikeABuiltInOneIsA400() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let refused = try await client.send(.put, "/v1/models/spam/aliases/LATEST", json: ["version": 1])
            #expect(refused.status == .badRequest)
            #expect(refused.errorCode == "invalid_argument")
            #expect(refused.errorMessage == "alias 'LATEST' of model 'spam' differs from the built-in alias 'latest' "
                + "only in case and would be mistaken for it; choose another name", "\(refused.text)")
        }
        #expect(try await h.registry.model("spam").aliases == [:])
    }

    @Test func archivesAndUnarchives() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.register("spam", activate: false)
        try await h.run { client in
            // Version 1 is active: archiving it needs force.
            let inUse = try await client.send(.post, "/v1/models/spam/versions/1/archive")
            #expect(inUse.status == .conflict)
            #expect(inUse.errorCode == "version_in_use")

            let archived = try await client.send(.post, "/v1/models/spam/versions/2/archive")
            #expect(archived.status == .ok)
            #expect(archived.json["archived"] == true)

            // An archived version can be neither activated nor aliased.
            let activate = try await client.send(.put, "/v1/models/spam/active", json: ["version": 2])
            #expect(activate.status == .conflict)
            #expect(activate.errorCode == "version_archived")
            let alias = try await client.send(.put, "/v1/models/spam/aliases/staging", json: ["version": 2])
            #expect(alias.status == .conflict)

            let live = try await client.get("/v1/models/spam/versions?archived=false")
            #expect(live.json.objects("versions").compactMap { $0.int("version") } == [1])

            let forced = try await client.send(.post, "/v1/models/spam/versions/1/archive", json: ["force": true])
            #expect(forced.status == .ok)
            let unarchived = try await client.send(.post, "/v1/models/spam/versions/2/unarchive")
            #expect(unarchived.status == .ok)
            #expect(unarchived.json["archived"] == false)

            let history = try await client.get("/v1/models/spam/history?kind=archived,unarchived")
            #expect(history.json.objects("events").compactMap { $0.string("kind") } == ["archived", "archived", "unarchived"])
            let page = try await client.get("/v1/models/spam/history?limit=2&order=newest")
            #expect(page.json.objects("events").count == 2)
            #expect(page.json.string("next_cursor") != nil)
        }
        #expect(try await h.registry.version("spam", 2).archived == false)
        #expect(try await h.registry.activeVersion(of: "spam") == nil)
    }

    @Test func modelNamesArePercentDecoded() async throws {
        let h = try await Harness()
        try await h.register("fraud model@eu")
        try await h.run { client in
            let reply = try await client.get("/v1/models/fraud%20model%40eu/versions/1")
            #expect(reply.status == .ok)
            #expect(reply.json.string("model") == "fraud model@eu")
        }
    }
}
