import Foundation
import RedML
import RedMLCore
import RedMLTestFixtures
import RedMLTesting
import Testing

/// What `MLJSONWriter` writes reads back with `JSONDecoder` as the same value.
@Suite("JSON round trip")
struct JSONRoundTripTests {
    static let strings: [String] = [
        "",
        "plain",
        "quote \" inside",
        "back\\slash \\\\ double",
        "new\nline and \r return and \t tab",
        "controls \u{1}\u{8}\u{C}\u{1B}\u{1F}",
        "nul \u{0} inside",
        "del \u{7F} and c1 \u{85}",
        "ünïcödé 模型 кириллица",
        "emoji 🚀 and family 👩‍👩‍👧 and flag 🇫🇷",
        "line separators \u{2028}\u{2029}",
        "</script><!-- \"'&",
        "mixed \"q\" \\ \n \u{1} 🚀",
        "trailing backslash \\",
    ]

    static let doubles: [Double] = [
        0.1, 1e-7, 3.0, -2.5e300, 0.0, -1.5, 1.0, 2.5, 123_456.789, 1e15, 1e16, 1e300, .leastNonzeroMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude, 1.0 / 3.0, 9_007_199_254_740_992,
    ]

    static let ints: [Int64] = [0, 1, -1, 42, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, 1 << 53 + 1]

    private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    @Test(arguments: strings)
    func stringsRoundTrip(_ string: String) throws {
        var writer = MLJSONWriter()
        writer.string(string)
        #expect(try decode(String.self, writer.text) == string)
        // Escaped so that the text holds no raw control characters.
        #expect(!writer.text.unicodeScalars.contains { $0.value < 0x20 })
        #expect(try decode(MLJSONValue.self, MLJSONValue.string(string).jsonText) == .string(string))
        // As an object key too.
        let object: MLJSONValue = .object([string: .string(string)])
        #expect(try decode(MLJSONValue.self, object.jsonText) == object)
        #expect(try JSONSerialization.jsonObject(with: Data(object.jsonText.utf8)) is [String: Any])
    }

    @Test(arguments: doubles)
    func doublesRoundTripAsDoubles(_ double: Double) throws {
        var writer = MLJSONWriter()
        writer.double(double)
        #expect(try decode(Double.self, writer.text) == double, "written as \(writer.text)")
        let value = MLJSONValue.double(double)
        #expect(try decode(MLJSONValue.self, value.jsonText) == value, "written as \(value.jsonText)")
    }

    @Test(arguments: ints)
    func integersRoundTripExactly(_ int: Int64) throws {
        var writer = MLJSONWriter()
        writer.int(int)
        #expect(writer.text == String(int))
        #expect(try decode(Int64.self, writer.text) == int)
        #expect(try decode(MLJSONValue.self, MLJSONValue.int(int).jsonText) == .int(int))
    }

    @Test(arguments: [
        "123456789012345678901234567890", "18446744073709551615", "-9223372036854775809", "12345678901234567890123.0",
    ])
    func integersPastInt64AreRefusedNotRounded(_ text: String) throws {
        let error = try #require(throws: MLJSONError.self) { try MLJSONValue.parse("{\"seed\": \(text)}", field: "spec") }
        #expect(error.field == "spec")
        #expect(error.reason.contains("outside the 64-bit range"), "\(error)")
        #expect(error.reason.contains("seed"), "\(error)")
    }

    /// What a Double's shortest form writes, and whole numbers a Double holds
    /// exactly (as PostgreSQL's jsonb prints them too), still read as doubles.
    @Test(arguments: [
        ("1e30", 1e30), ("1.8446744073709552e+19", 1.8446744073709552e19),
        ("123456789012345680000000000000", 1.2345678901234568e29), ("-1e300", -1e300), ("9223372036854775808", 0x1p63),
        ("1180591620717411303424", 0x1p70),
    ])
    func largeNumbersADoubleHoldsStillRead(_ text: String, _ value: Double) throws {
        #expect(try MLJSONValue.parse(text, field: "spec") == .double(value))
    }

    @Test func nonFiniteDoublesBecomeNull() throws {
        var writer = MLJSONWriter()
        writer.array { array in
            array.double(.nan)
            array.double(.infinity)
            array.double(-.infinity)
        }
        #expect(writer.text == "[null,null,null]")
    }

    @Test func nestedValuesRoundTripWithSortedKeys() throws {
        let value: MLJSONValue = [
            "z": [1, 2.5, "three", nil, true, false, [:], []],
            "a": ["nested": ["deeper": ["deepest": .int(Int64.min)]]],
            "m": .double(-2.5e300),
            "emoji 🚀": "\"quoted\"\n",
        ]
        let text = value.jsonText
        #expect(try decode(MLJSONValue.self, text) == value)
        #expect(text.hasPrefix("{\"a\":"))
        // Equal values give equal text.
        let copy: MLJSONValue = .object(Dictionary(uniqueKeysWithValues: value.objectPairs.reversed()))
        #expect(copy.jsonText == text)
        #expect(try MLJSONValue.parse(text, field: "x") == value)
    }

    @Test func fieldHelpersWriteValidObjects() throws {
        var writer = MLJSONWriter()
        writer.object { json in
            json.field("absent", nil as String?)
            json.field("absentInt", nil as Int?)
            json.field("s", "a\"b")
            json.field("i", UInt32.max)
            json.field("u", UInt64.max)
            json.field("b", true)
            json.field("o", ["k": 1.5] as MLJSONObject)
            json.field("t", ["y": "2", "x": "1"] as [String: String])
        }
        #expect(writer.text == #"{"s":"a\"b","i":4294967295,"u":18446744073709551615,"b":true,"o":{"k":1.5},"t":{"x":"1","y":"2"}}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(writer.text.utf8)) as? [String: Any])
        #expect(object["absent"] == nil)
        #expect(object.count == 6)
    }

    // MARK: Records, through the registry and the raw store

    static let trickyMetrics: MLJSONObject = [
        "accuracy": .double(1.0),
        "loss": .double(3.0),
        "tiny": .double(1e-7),
        "tenth": .double(0.1),
        "huge": .double(-2.5e300),
        "steps": .int(Int64.max),
        "offset": .int(Int64.min),
        "note": .string("quote \" backslash \\ newline \n ctrl \u{1} 🚀"),
        "list": [1, 2.5, "x", nil, true],
    ]

    @Test(arguments: Backends.allFixtures())
    func versionRecordRoundTrips(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let tricky = "quote \" backslash \\ newline \n tab \t ctrl \u{1}\u{1F} unicode 模型 emoji 🚀"
        let registration = MLRegistration(
            model: "json@model", hyperparameters: ["optimizer": .string(tricky), "lr": 0.001, "epochs": 30],
            metrics: Self.trickyMetrics, trainingDataSHA256: String(repeating: "0f", count: 32),
            trainingQuery: "SELECT \"a\"\n FROM t WHERE b = '\\'", createdBy: "O'Brien \"the trainer\"",
            description: tricky, tags: ["key \" with \\ 模型 🚀": tricky, "plain": ""], jobID: UInt128.max - 12_345)
        let registered = try await registry.register(registration, weights: bytes("w"))

        let raw = try #require(try await store.get(namespace: MLNamespace.modelVersions, key: "json@model@v1"))
        #expect(try JSONSerialization.jsonObject(with: Data(raw.utf8)) is [String: Any])
        let decoded = try decode(MLModelVersion.self, raw)
        #expect(decoded == registered)
        #expect(decoded.metrics == Self.trickyMetrics)
        #expect(decoded.hyperparameters == registration.hyperparameters)
        #expect(decoded.description == tricky)
        #expect(decoded.tags == registration.tags)
        #expect(decoded.createdBy == registration.createdBy)
        #expect(decoded.trainingQuery == registration.trainingQuery)
        #expect(decoded.jobID == registration.jobID)
        #expect(try await registry.version("json@model", 1) == decoded)
        #expect(try await MLModelRegistry(store: store).version("json@model", 1).metrics == Self.trickyMetrics)

        // The public Codable conformance agrees with the stored form.
        let reencoded = try JSONEncoder().encode(decoded)
        #expect(try JSONDecoder().decode(MLModelVersion.self, from: reencoded) == decoded)
    }

    /// A metric of 1.0 must read back as the double it was registered as, not as the integer 1.
    @Test(arguments: Backends.allFixtures())
    func integralDoubleMetricsReadBackAsDoubles(_ fixture: MLStoreFixture) async throws {
        let (store, registry) = try await makeRegistry(fixture)
        let metrics: MLJSONObject = ["accuracy": .double(1.0), "loss": .double(0.0), "epochs": .int(3)]
        let registered = try await registry.register(MLRegistration(model: "spam", metrics: metrics), weights: bytes("w"))
        #expect(registered.metrics == metrics)
        let read = try await MLModelRegistry(store: store).version("spam", 1)
        #expect(read.metrics["accuracy"] == .double(1.0))
        #expect(read.metrics["loss"] == .double(0.0))
        #expect(read.metrics["epochs"] == .int(3))
        #expect(read == registered)
    }

    @Test(arguments: Backends.allFixtures())
    func modelRecordRoundTrips(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (store, registry) = try await makeRegistry(fixture, clock: clock)
        try await register(registry, "model \"quoted\" 🚀")
        try await register(registry, "model \"quoted\" 🚀", activate: false)
        try await registry.setAlias("champion", of: "model \"quoted\" 🚀", to: 2)
        clock.advance(seconds: 1)
        let tricky = "multi\nline \"description\" with \\ and \u{7} and 中文"
        let updated = try await registry.updateModel(
            "model \"quoted\" 🚀", description: tricky, tags: ["k\"ey": "v\\al\nue", "emoji🚀": "✓"])
        let raw = try #require(try await store.get(namespace: MLNamespace.models, key: "model \"quoted\" 🚀"))
        let decoded = try decode(MLModel.self, raw)
        #expect(decoded == updated)
        #expect(decoded == (try await registry.model("model \"quoted\" 🚀")))
        #expect(decoded.description == tricky)
        #expect(decoded.aliases == ["champion": 2])
        #expect(decoded.activeVersion == 1)
        #expect(decoded.latestVersion == 2)
        #expect(decoded.eventCount == 5)
        let reencoded = try JSONEncoder().encode(decoded)
        #expect(try JSONDecoder().decode(MLModel.self, from: reencoded) == decoded)
    }

    @Test(arguments: Backends.allFixtures())
    func eventRecordsRoundTrip(_ fixture: MLStoreFixture) async throws {
        let clock = FakeClock()
        let (store, registry) = try await makeRegistry(fixture, clock: clock)
        let actor = "Zoë \"ops\" \\ on-call\tteam 🚀"
        try await register(registry, "spam", by: actor)
        try await register(registry, "spam", by: actor)
        try await registry.setAlias("champion.v-2_x", of: "spam", to: 1, by: actor)
        try await registry.deactivate("spam", by: actor)
        let events = try await allEvents(registry, "spam")
        #expect(events.count == 6)
        for event in events {
            let raw = try #require(
                try await store.get(namespace: MLNamespace.modelHistory, key: MLKey.modelEvent("spam", event.sequence)))
            #expect(try JSONSerialization.jsonObject(with: Data(raw.utf8)) is [String: Any])
            let decoded = try decode(MLRegistryEvent.self, raw)
            #expect(decoded == event)
            #expect(decoded.actor == actor)
            #expect(decoded.atMs == clock.nowMs)
            #expect(try JSONDecoder().decode(MLRegistryEvent.self, from: JSONEncoder().encode(decoded)) == decoded)
        }
        #expect(events[4].alias == "champion.v-2_x")
        #expect(events[5].kind == .deactivated)
        #expect(events[5].previousVersion == 2)
    }
}

extension MLJSONValue {
    fileprivate var objectPairs: [(String, MLJSONValue)] {
        guard case .object(let object) = self else { return [] }
        return object.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
