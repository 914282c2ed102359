import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Bad input is refused with the right code, a message naming what is wrong,
/// and nothing stored changes.
@Suite("Validation")
struct ValidationTests {
    /// Runs `body`, expecting `code` and `mentioning`, and checks the store did not change.
    private func refused<R>(
        _ store: any MLStore, _ code: MLRegistryError.Code = .invalidArgument, mentioning: [String],
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> R
    ) async throws -> MLRegistryError? {
        let before = try await snapshot(store)
        let error = await expectRegistryError(code, mentioning: mentioning, sourceLocation: sourceLocation, body)
        let after = try await snapshot(store)
        #expect(after == before, "the store changed: \(before) -> \(after)", sourceLocation: sourceLocation)
        return error
    }

    /// A store with one model, so refused calls have something they could have damaged.
    private func seeded(_ fixture: MLStoreFixture) async throws -> (any MLStore, MLModelRegistry) {
        let (store, registry) = try await makeRegistry(fixture)
        try await register(registry, "spam", weights: "v1")
        try await register(registry, "spam", weights: "v2")
        try await registry.setAlias("champion", of: "spam", to: 1)
        return (store, registry)
    }

    static let badModelNames: [String] = [
        "",
        String(repeating: "m", count: 256),
        "team/spam",
        "/",
        "spam\n",
        "tab\there",
        "nul\u{0}",
        "del\u{7F}",
        "c1\u{85}control",
    ]

    /// Names refused when a model is created, though a model made before these
    /// rules under such a name stays reachable (lookups check only the rules above).
    static let badNewModelNames: [String] = [
        // Too long in Unicode scalars though one grapheme cluster: 'x' and 255 combining accents.
        "x" + String(repeating: "\u{301}", count: 255),
        // Path segments that URL clients remove.
        ".", "..",
        // Not NFC: 'e' and a combining acute, where NFC has 'é'.
        "cafe\u{301}",
    ]

    @Test(arguments: Backends.allFixtures(), badNewModelNames)
    func badNewModelNamesAreRefusedWhenCreatedButDoNotBlockLookups(_ fixture: MLStoreFixture, _ name: String) async throws {
        let (store, registry) = try await seeded(fixture)
        _ = try await refused(store, mentioning: ["model name"]) {
            try await registry.register(MLRegistration(model: name), weights: bytes("x"))
        }
        #expect(throws: MLRegistryError.self) { try MLModelRegistry.validateModelName(name) }
        // A lookup is not a creation: the name is simply unknown here.
        let lookup = await #expect(throws: MLRegistryError.self) { try await registry.model(name) }
        #expect(lookup?.code == .unknownModel, "\(String(describing: lookup))")
    }

    @Test(arguments: Backends.allFixtures(), badModelNames)
    func badModelNamesAreRefused(_ fixture: MLStoreFixture, _ name: String) async throws {
        let (store, registry) = try await seeded(fixture)
        for body in [
            { _ = try await registry.register(MLRegistration(model: name), weights: bytes("x")) },
            { _ = try await registry.model(name) },
            { _ = try await registry.activate(name, version: 1) },
            { try await registry.deactivate(name) },
            { _ = try await registry.updateModel(name, description: "d") },
            { _ = try await registry.versions(of: name) },
            { _ = try await registry.contains(model: name) },
        ] as [() async throws -> Void] {
            _ = try await refused(store, mentioning: ["model name"], body)
        }
        #expect(try await allEvents(registry, "spam").count == 5)
    }

    @Test(arguments: Backends.allFixtures())
    func goodModelNamesAreAccepted(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        let names = [
            "team@spam", "weird@name@v7", String(repeating: "m", count: 255), "naïve-模型-🚀", "with space", "a",
            "café", "...", ".hidden", "v1.2",
        ]
        for name in names {
            let version = try await register(registry, name, weights: "w-\(name)")
            #expect(version.model == name)
            #expect(try await registry.version(name, 1).model == name)
            #expect(try await registry.activeVersion(of: name)?.version == 1)
            #expect(try await allEvents(registry, name).count == 2)
        }
        // '@' in a name does not confuse the version keys.
        try await register(registry, "team", weights: "plain team")
        #expect(try await registry.weightsData(of: "team@spam", version: 1) == bytes("w-team@spam"))
        #expect(try await registry.weightsData(of: "team", version: 1) == bytes("plain team"))
        #expect(try await registry.summaries().map(\.name).sorted() == (names + ["team"]).sorted())
    }

    @Test(arguments: Backends.allFixtures())
    func versionZeroIsRefused(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        for body in [
            { _ = try await registry.version("spam", 0) },
            { _ = try await registry.activate("spam", version: 0) },
            { _ = try await registry.archive("spam", version: 0, force: true) },
            { _ = try await registry.unarchive("spam", version: 0) },
            { _ = try await registry.setAlias("staging", of: "spam", to: 0) },
            { _ = try await registry.deleteWeights("spam", version: 0) },
            { _ = try await registry.updateVersion("spam", version: 0, description: "x") },
            { _ = try await registry.weightsData(of: "spam", version: 0) },
            { _ = try await registry.register(MLRegistration(model: "spam", parentVersion: 0), weights: bytes("x")) },
        ] as [() async throws -> Void] {
            let error = try await refused(store, mentioning: ["spam", "0"], body)
            #expect(error?.model == "spam")
        }
    }

    @Test(arguments: Backends.allFixtures())
    func nonFiniteNumbersAreRefused(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        let cases: [(MLRegistration, String)] = [
            (MLRegistration(model: "spam", metrics: ["loss": .double(.nan)]), "metrics"),
            (MLRegistration(model: "spam", metrics: ["nested": ["deep": [1, .double(.infinity)]]]), "metrics"),
            (MLRegistration(model: "spam", hyperparameters: ["lr": .double(-.infinity)]), "hyperparameters"),
            (MLRegistration(model: "new-model", metrics: ["auc": .double(.nan)]), "metrics"),
        ]
        for (registration, field) in cases {
            let error = try await refused(store, mentioning: [registration.model, field]) {
                try await registry.register(registration, weights: bytes("weights"))
            }
            #expect(error?.model == registration.model)
        }
        #expect(try await registry.contains(model: "new-model") == false)
    }

    @Test(arguments: Backends.allFixtures())
    func nulInTextIsRefused(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        let cases: [(MLRegistration, String)] = [
            (MLRegistration(model: "spam", description: "a\u{0}b"), "description"),
            (MLRegistration(model: "spam", createdBy: "x\u{0}"), "created-by"),
            (MLRegistration(model: "spam", trainingQuery: "SELECT \u{0}"), "training query"),
            (MLRegistration(model: "spam", metrics: ["k": "v\u{0}"]), "metrics"),
            (MLRegistration(model: "spam", hyperparameters: ["k\u{0}": 1]), "hyperparameters"),
        ]
        for (registration, field) in cases {
            _ = try await refused(store, mentioning: ["spam", field]) {
                try await registry.register(registration, weights: bytes("weights"))
            }
        }
        _ = try await refused(store, mentioning: ["spam", "description"]) {
            try await registry.updateModel("spam", description: "bad\u{0}")
        }
        _ = try await refused(store, mentioning: ["spam", "description"]) {
            try await registry.updateVersion("spam", version: 1, description: "bad\u{0}")
        }
        _ = try await refused(store, mentioning: ["spam", "actor"]) {
            try await registry.activate("spam", version: 2, by: String(repeating: "a", count: 256))
        }
    }

    static let badAliases: [String] = [
        "", String(repeating: "a", count: 65), "has space", "a/b", "naïve", "emoji🚀", "tab\t", "at@sign",
    ]

    @Test(arguments: Backends.allFixtures(), badAliases)
    func badAliasNamesAreRefused(_ fixture: MLStoreFixture, _ alias: String) async throws {
        let (store, registry) = try await seeded(fixture)
        let error = try await refused(store, mentioning: ["spam", "alias"]) {
            try await registry.setAlias(alias, of: "spam", to: 2)
        }
        #expect(error?.model == "spam")
        _ = try await refused(store, mentioning: ["spam", "alias"]) {
            try await registry.removeAlias(alias, of: "spam")
        }
    }

    @Test(arguments: Backends.allFixtures(), [".", ".."])
    func aliasesThatURLsRemoveCannotBeSet(_ fixture: MLStoreFixture, _ alias: String) async throws {
        let (store, registry) = try await seeded(fixture)
        let error = try await refused(store, mentioning: ["model 'spam'", "alias '\(alias)'", "path segment that URLs remove"]) {
            try await registry.setAlias(alias, of: "spam", to: 1)
        }
        #expect(error?.model == "spam")
    }

    @Test(arguments: Backends.allFixtures())
    func aTagValueWithNULIsRefusedAsDescriptionsAre(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        _ = try await refused(store, mentioning: ["model 'spam'", "tag 'team'", "U+0000"]) {
            try await registry.updateModel("spam", tags: ["team": "trust\u{0}"])
        }
        _ = try await refused(store, mentioning: ["model 'spam'", "U+0000"]) {
            try await registry.updateVersion("spam", version: 1, tags: ["k": "\u{0}"])
        }
    }

    @Test(arguments: Backends.allFixtures())
    func anUnknownNameNotInNFCSaysSo(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await makeRegistry(fixture)
        try await register(registry, "caf\u{E9}", weights: "v1")
        // The same name as it looks, spelt with a combining accent: a lookup finds nothing, and says why.
        let error = await expectRegistryError(.unknownModel, mentioning: ["not in NFC", "ask for it composed"]) {
            try await registry.model("cafe\u{301}")
        }
        #expect(error?.model == "cafe\u{301}")
        let plain = await expectRegistryError(.unknownModel, mentioning: ["unknown model 'tea'"]) {
            try await registry.model("tea")
        }
        #expect(plain?.message == "unknown model 'tea'", "a composed name gets no hint")
    }

    @Test(arguments: Backends.allFixtures())
    func goodAliasNamesAreAccepted(_ fixture: MLStoreFixture) async throws {
        let (_, registry) = try await seeded(fixture)
        // Names are case-sensitive, and only a built-in alias's own spelling in another case is refused;
        // `v3` and `12` are plain names too, as nothing in RedML reads an alias as a version number.
        for alias in ["a", "A-b_c.9", String(repeating: "z", count: 64), "Activated", "latest2", "v3", "12"] {
            try await registry.setAlias(alias, of: "spam", to: 2)
            #expect(try await registry.version(of: "spam", alias: alias)?.version == 2)
        }
    }

    @Test(arguments: Backends.allFixtures(), ["active", "latest"])
    func builtInAliasesCannotBeSet(_ fixture: MLStoreFixture, _ alias: String) async throws {
        let (store, registry) = try await seeded(fixture)
        _ = try await refused(store, mentioning: ["spam", alias, "built-in"]) {
            try await registry.setAlias(alias, of: "spam", to: 1)
        }
        _ = try await refused(store, mentioning: ["spam", alias, "built-in"]) {
            try await registry.removeAlias(alias, of: "spam")
        }
        // They still answer as built-ins.
        #expect(try await registry.version(of: "spam", alias: "active")?.version == 2)
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 2)
    }

    @Test(arguments: Backends.allFixtures(), ["Latest", "LATEST", "Active", "aCtIvE"])
    func builtInAliasesInAnotherCaseCannotBeSet(_ fixture: MLStoreFixture, _ alias: String) async throws {
        let (store, registry) = try await seeded(fixture)
        let error = try await refused(store, mentioning: ["model 'spam'", "alias '\(alias)'", "built-in alias",
                                                          "'\(alias.lowercased())'", "only in case"]) {
            try await registry.setAlias(alias, of: "spam", to: 1)
        }
        #expect(error?.model == "spam")
        // The built-ins still answer as before.
        #expect(try await registry.version(of: "spam", alias: "latest")?.version == 2)
        #expect(try await registry.version(of: "spam", alias: "active")?.version == 2)
    }

    @Test(arguments: Backends.allFixtures())
    func anAliasStoredBeforeTheCaseRuleStillResolvesAndCanBeRemoved(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        // Planted as an older RedML stored it, behind the registry's back.
        try await DamagedRecordTests.edit(store, "spam", "aliases", to: ["champion": 1, "Latest": 1])
        let reader = MLModelRegistry(store: store)
        #expect(try await reader.version(of: "spam", alias: "Latest")?.version == 1)
        #expect(try await reader.version(of: "spam", alias: "latest")?.version == 2)
        #expect(try await reader.model("spam").aliases["Latest"] == 1)
        // Moving it is refused (that would set it), but removing it is not.
        _ = try await refused(store, mentioning: ["alias 'Latest'", "only in case"]) {
            try await reader.setAlias("Latest", of: "spam", to: 2)
        }
        try await reader.removeAlias("Latest", of: "spam", expecting: .pointsAt(1))
        #expect(try await reader.model("spam").aliases == ["champion": 1])
        #expect(try await reader.history(of: "spam", MLHistoryQuery(newestFirst: true)).events.first?.alias == "Latest")
    }

    static let badSHA256s: [String] = [
        String(repeating: "A", count: 64),
        String(repeating: "a", count: 63),
        String(repeating: "a", count: 65),
        String(repeating: "g", count: 64),
        "",
        String(repeating: "a", count: 62) + " a",
    ]

    @Test(arguments: Backends.allFixtures(), badSHA256s)
    func badTrainingDataSHA256IsRefused(_ fixture: MLStoreFixture, _ sha: String) async throws {
        let (store, registry) = try await seeded(fixture)
        let error = try await refused(store, mentioning: ["spam", "training data SHA-256"]) {
            try await registry.register(MLRegistration(model: "spam", trainingDataSHA256: sha), weights: bytes("w"))
        }
        #expect(error?.model == "spam")
    }

    @Test(arguments: Backends.allFixtures())
    func badTagsAreRefused(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        let badTags: [[String: String]] = [
            ["": "v"],
            ["line\nbreak": "v"],
            [String(repeating: "k", count: 256): "v"],
            ["big": String(repeating: "v", count: 5_001)],
        ]
        for tags in badTags {
            _ = try await refused(store, mentioning: ["spam", "tag"]) {
                try await registry.register(MLRegistration(model: "spam", tags: tags), weights: bytes("w"))
            }
            _ = try await refused(store, mentioning: ["spam", "tag"]) {
                try await registry.updateModel("spam", tags: tags)
            }
            _ = try await refused(store, mentioning: ["spam", "tag"]) {
                try await registry.updateVersion("spam", version: 1, tags: tags)
            }
        }
        // The limits themselves are accepted.
        try await registry.updateModel(
            "spam", tags: [String(repeating: "k", count: 255): String(repeating: "v", count: 5_000)])
    }

    @Test(arguments: Backends.allFixtures(), [0, -1, 1_001])
    func badPageLimitsAreRefused(_ fixture: MLStoreFixture, _ limit: Int) async throws {
        let (store, registry) = try await seeded(fixture)
        _ = try await refused(store, mentioning: ["limit", "\(limit)"]) {
            try await registry.versions(of: "spam", MLVersionQuery(limit: limit))
        }
        _ = try await refused(store, mentioning: ["limit"]) {
            try await registry.history(of: "spam", MLHistoryQuery(limit: limit))
        }
        _ = try await refused(store, mentioning: ["limit"]) {
            try await registry.models(MLModelQuery(limit: limit))
        }
    }

    @Test(arguments: Backends.allFixtures())
    func weightsThatDoNotHashToTheExpectedSHA256AreRefused(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        let weights = bytes("the real weights")
        let actual = MLBlobHasher.sha256(of: weights)
        let expected = MLBlobHasher.sha256(of: bytes("what the client meant to send"))
        _ = try await refused(store, mentioning: ["spam", actual, expected, "nothing was registered"]) {
            try await registry.register(MLRegistration(model: "spam", expectedWeightsSHA256: expected), weights: weights)
        }
        _ = try await refused(store, mentioning: ["expected weights SHA-256", "64 lowercase hex"]) {
            try await registry.register(MLRegistration(model: "spam", expectedWeightsSHA256: "abc"), weights: weights)
        }
        let version = try await registry.register(MLRegistration(model: "spam", expectedWeightsSHA256: actual), weights: weights)
        #expect(version.weights.sha256 == actual)
    }

    @Test(arguments: Backends.allFixtures())
    func aModelCursorWithNULIsInvalidInput(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        _ = try await refused(store, mentioning: ["cursor", "U+0000"]) {
            try await registry.models(MLModelQuery(after: "sp\u{0}am"))
        }
    }

    /// The "nothing changed" checks above are only as good as the snapshot: it must see every kind of change.
    @Test(arguments: Backends.allFixtures())
    func snapshotsSeeEveryKindOfChange(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await seeded(fixture)
        var previous = try await snapshot(store)
        #expect(previous.namespaces.values.allSatisfy { !$0.isEmpty })
        #expect(previous.blobs.count == 2)
        let changes: [() async throws -> Void] = [
            { _ = try await registry.activate("spam", version: 1) },
            { _ = try await registry.setAlias("champion", of: "spam", to: 2) },
            { _ = try await registry.updateVersion("spam", version: 1, tags: ["a": "b"]) },
            { _ = try await registry.archive("spam", version: 2, force: true) },
            { _ = try await registry.deleteWeights("spam", version: 2) },
        ]
        for change in changes {
            try await change()
            let next = try await snapshot(store)
            #expect(next != previous)
            previous = next
        }
        #expect(previous.blobs.count == 1)
    }
}
