import Foundation
import Hummingbird
import RedML
import RedMLHTTP
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Records damaged behind the registry's back (a hand edit, a record restored
/// alone) are named in the answer, never dropped without a word.
@Suite("Damaged records over HTTP")
struct DamagedRecordRouteTests {
    @Test(arguments: Backends.allFixtures())
    func listsNameTheRecordsTheySkip(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        for _ in 1...2 { try await h.register("spam") }
        let events = try await h.registry.history(of: "spam").events
        let event = MLKey.modelEvent("spam", try #require(events.first).sequence)
        try await h.store.put(namespace: MLNamespace.models, key: "broken", value: "not json")
        try await h.store.put(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 1), value: "{oops")
        try await h.store.put(namespace: MLNamespace.modelHistory, key: event, value: "{oops")
        try await h.run { client in
            for (uri, field, listed, key) in [
                ("/v1/models", "models", 1, "models/broken"),
                ("/v1/models/spam/versions", "versions", 1, "model_versions/spam@v1"),
                ("/v1/models/spam/history", "events", events.count - 1, MLNamespace.modelHistory + "/" + event),
            ] as [(String, String, Int, String)] {
                let reply = try await client.get(uri)
                #expect(reply.status == .ok, "\(uri): \(reply.text)")
                #expect(reply.json.objects(field).count == listed, "\(uri): \(reply.text)")
                let skipped = reply.skipped ?? []
                // The strings `redml … --json` prints under `skipped`: the record and what is wrong with it.
                #expect(skipped.count == 1 && skipped[0].contains(key) && skipped[0].contains("corrupted"),
                        "\(uri): \(reply.text)")
            }
            // Nothing skipped, no field: a client tells a clean page at a glance.
            let clean = try await client.get("/v1/models/spam/versions?cursor=1")
            #expect(clean.status == .ok && clean.json["skipped"] == nil, "\(clean.text)")
        }
    }

    @Test(arguments: Backends.allFixtures())
    func versionsAboveADamagedCounterAreListed(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        for _ in 1...4 { try await h.register("spam") }
        // The counter edited down behind the registry's back, as a hand edit or a record restored alone would.
        let stored = try #require(try await h.store.get(namespace: MLNamespace.models, key: "spam"))
        try await h.store.put(namespace: MLNamespace.models, key: "spam",
                              value: stored.replacingOccurrences(of: #""latest_version":4"#, with: #""latest_version":2"#))
        #expect(try await MLModelRegistry(store: h.store).model("spam").latestVersion == 2)
        try await h.run { client in
            for (uri, expected) in [("/v1/models/spam/versions", [1, 2, 3, 4]),
                                    ("/v1/models/spam/versions?order=newest", [4, 3, 2, 1])] {
                let reply = try await client.get(uri)
                #expect(reply.status == .ok, "\(uri): \(reply.text)")
                #expect(reply.json.objects("versions").compactMap { $0["version"]?.intValue } == expected.map(Int64.init),
                        "\(uri): \(reply.text)")
            }
            // Listed, so shown; changed, refused naming the record behind, with nothing changed.
            let shown = try await client.get("/v1/models/spam/versions/3")
            #expect(shown.status == .ok && shown.json.int("version") == 3, "\(shown.text)")
            let refused = try await client.send(.put, "/v1/models/spam/aliases/champion", json: ["version": 3])
            #expect(refused.status == .internalServerError && refused.errorCode == "persistence", "\(refused.text)")
            #expect(refused.errorMessage.contains("models/spam") && refused.errorMessage.contains("model_versions/spam@v3"),
                    "\(refused.text)")
            #expect(try await MLModelRegistry(store: h.store).model("spam").aliases.isEmpty)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func aModelWhoseActiveVersionCannotBeReadIsShownNamingIt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        // Registered by another registry, so the API's has not cached the active version before it is damaged.
        let writer = MLModelRegistry(store: h.store)
        for _ in 1...2 { try await writer.register(MLRegistration(model: "spam"), weights: Data("weights".utf8)) }
        try await h.store.put(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 2), value: "{oops")
        try await h.run { client in
            let reply = try await client.get("/v1/models/spam")
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.json.string("name") == "spam" && reply.json.int("active_version") == 2, "\(reply.text)")
            #expect(reply.json["active"] == .null, "\(reply.text)")
            let skipped = reply.skipped ?? []
            #expect(skipped.count == 1 && skipped[0].contains("model_versions/spam@v2"), "\(reply.text)")
            // The version's own routes read nothing else, so they still fail on it.
            #expect(try await client.get("/v1/models/spam/active").status == .internalServerError)
            // A corrupt version that is not active leaves the model's answer whole.
            try await h.registry.activate("spam", version: 1)
            let other = try await client.get("/v1/models/spam")
            #expect(other.status == .ok && other.json["skipped"] == nil, "\(other.text)")
            guard case .object(let active)? = other.json["active"] else {
                Issue.record("no active version in \(other.text)")
                return
            }
            #expect(active.int("version") == 1)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func aReadOfOneCorruptRecordFailsNamingIt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let writer = MLModelRegistry(store: h.store)  // so the API's registry has cached nothing
        for _ in 1...2 { try await writer.register(MLRegistration(model: "spam"), weights: Data("weights".utf8)) }
        try await h.store.put(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 2), value: "{oops")
        try await h.run { client in
            for uri in ["/v1/models/spam/active", "/v1/models/spam/versions/2", "/v1/models/spam/aliases/latest"] {
                let reply = try await client.get(uri)
                #expect(reply.status == .internalServerError && reply.errorCode == "persistence", "\(uri): \(reply.text)")
                // Not just "the store failed for model 'spam'": which record, and what is wrong with it.
                #expect(reply.errorMessage.contains("model_versions/spam@v2") && reply.errorMessage.contains("not valid JSON"),
                        "\(uri): \(reply.text)")
            }
        }
    }

    /// A job whose stored record cannot be read is damage, not an outage: a
    /// code of its own, naming the record and what is wrong, with where to look.
    @Test(arguments: Backends.allFixtures())
    func aJobWhoseRecordCannotBeReadIsReportedAsCorrupt(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        try await JobDamage.replaceRecord(of: id, in: h.store, with: "{oops")
        let key = MLKey.job(id)
        try await h.run { client in
            for (method, uri) in [
                (.get, "/v1/jobs/\(key)"), (.get, "/v1/jobs/\(key)/history"), (.post, "/v1/jobs/\(key)/cancel"),
                (.get, "/v1/jobs/\(key)/events"),
            ] as [(HTTPRequest.Method, String)] {
                let reply = try await client.send(method, uri)
                #expect(reply.status == .internalServerError && reply.errorCode == "job_corrupt", "\(uri): \(reply.text)")
                #expect(reply.errorMessage.contains("\(MLNamespace.jobs)/\(key)") && reply.errorMessage.contains("not valid JSON"),
                        "\(uri): \(reply.text)")
                #expect(reply.errorMessage.contains("redml store check"), "\(uri): \(reply.text)")
            }
        }
    }
}
