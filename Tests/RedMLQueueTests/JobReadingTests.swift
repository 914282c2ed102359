import Foundation
import RedML
import RedMLCore
@testable import RedMLQueue
import Testing

/// Job records are read on every claim through a fast reader, with
/// `JSONDecoder` behind it. The two must never disagree: whatever the record
/// holds, the job (or the error) is the one `JSONDecoder` gives.
@Suite("Reading job records")
struct JobReadingTests {
    @Test("every record the queue writes is read by the fast path, exactly as JSONDecoder reads it")
    func writtenRecordsReadQuickly() throws {
        var random = SplitMix64(seed: 7)
        for round in 0..<500 {
            let job = Self.randomJob(&random, wholeDoubles: false)
            let json = job.storedJSON
            let quick = try #require(MLJob.readQuickly(json), "round \(round): \(json)")
            let foundation = try JSONDecoder().decode(MLJob.self, from: Data(json.utf8))
            #expect(Self.same(quick, foundation), "round \(round): \(json)")
            #expect(Self.same(quick, job), "round \(round): \(json)")
        }
    }

    @Test("a whole number in Int64's range written as a double in a spec is left to JSONDecoder, which decides its case")
    func wholeDoublesAreLeftToFoundation() throws {
        var random = SplitMix64(seed: 3)
        var job = Self.randomJob(&random, wholeDoubles: false)
        job.spec = ["whole": .double(2.0), "exponent": .double(1e15)]
        let json = job.storedJSON
        #expect(MLJob.readQuickly(json) == nil)
        let decoded = try MLJob.decodeStored(json, key: job.key)
        let foundation = try JSONDecoder().decode(MLJob.self, from: Data(json.utf8))
        #expect(Self.same(decoded, foundation))
    }

    @Test("hand-written records: the fast path gives JSONDecoder's answer or steps aside", arguments: Self.variants)
    func handWrittenRecords(variant: Variant) throws {
        let json = Self.template.replacingOccurrences(of: variant.replace, with: variant.with)
        #expect(json != Self.template || variant.replace == "", "the variant \(variant.name) changed nothing")
        Self.expectSameOutcome(json, context: variant.name)
        if let quick = variant.quick {
            #expect((MLJob.readQuickly(json) != nil) == quick, "\(variant.name): \(json)")
        }
    }

    @Test("deeply nested specs are left to JSONDecoder: read as it reads them, or reported as corrupt, never a crash",
          arguments: [10, 100, 100_000])
    func deepNesting(levels: Int) throws {
        let nested = String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
        let json = Self.template.replacingOccurrences(of: #""spec":{"rows":10}"#, with: #""spec":{"deep":\#(nested)}"#)
        #expect((MLJob.readQuickly(json) != nil) == (levels < MLJSONReader.maximumDepth))
        Self.expectSameOutcome(json, context: "\(levels) levels")
        if levels == 100_000 {
            #expect(throws: MLPersistenceError.self) { try MLJob.decodeStored(json, key: "job") }
        }
    }

    @Test("mutated records: decoding agrees with JSONDecoder on every one")
    func mutatedRecordsAgree() throws {
        var random = SplitMix64(seed: 11)
        let pieces = ["\"", "\\", ",", ":", "{", "}", "[", "]", "0", "-", ".", "e", "1", " ", "null", "true", "\\u",
                      "\u{1}", "é", "\\ud800", "9999999999999999999", "x"]
        var quickCount = 0
        for round in 0..<3_000 {
            var bytes = Array(Self.randomJob(&random, wholeDoubles: round % 3 == 0).storedJSON.utf8)
            for _ in 0...random.index(below: 2) {
                let at = random.index(below: bytes.count)
                switch random.index(below: 3) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(contentsOf: pieces[random.index(below: pieces.count)].utf8, at: at)
                default: bytes.replaceSubrange(at...at, with: pieces[random.index(below: pieces.count)].utf8)
                }
            }
            let json = String(decoding: bytes, as: UTF8.self)
            if MLJob.readQuickly(json) != nil { quickCount += 1 }
            Self.expectSameOutcome(json, context: "round \(round)")
        }
        // Some mutations leave a valid record (a changed digit or letter); those must still be read quickly.
        #expect(quickCount > 100)
    }

    // MARK: Support

    static func expectSameOutcome(_ json: String, context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let foundation = try? JSONDecoder().decode(MLJob.self, from: Data(json.utf8))
        // Stored under the key of the id it holds: a record under another job's key is corrupt whatever it reads as.
        let decoded = try? MLJob.decodeStored(json, key: foundation?.key ?? "job")
        let quick = MLJob.readQuickly(json)
        switch (foundation, decoded) {
        case (nil, nil):
            #expect(quick == nil, "\(context): the fast path read what JSONDecoder refuses: \(json)",
                    sourceLocation: sourceLocation)
        case (let foundation?, let decoded?):
            #expect(same(foundation, decoded), "\(context): \(json)", sourceLocation: sourceLocation)
        default:
            Issue.record("\(context): JSONDecoder \(foundation == nil ? "refuses" : "reads") \(json)",
                         sourceLocation: sourceLocation)
        }
    }

    /// Equal field by field, numbers in specs, metrics and checkpoints of the same case too.
    static func same(_ a: MLJob, _ b: MLJob) -> Bool {
        a == b && a.storedJSON == b.storedJSON && DecodedJobsTests.same(.object(a.spec), .object(b.spec))
            && DecodedJobsTests.same(a.metrics.map(MLJSONValue.object) ?? .null, b.metrics.map(MLJSONValue.object) ?? .null)
            && DecodedJobsTests.same(a.checkpoint.map(MLJSONValue.object) ?? .null, b.checkpoint.map(MLJSONValue.object) ?? .null)
    }

    static let strings = ["", "plain", "a \"quoted\" / back\\slash", "tab\tnew\nline\u{1}\u{1F}", "ünïcode ✓ 🎉",
                          "e\u{301}", "\u{7F}\u{80}\u{FFFF}", "</script>"]

    static func randomValue(_ random: inout SplitMix64, depth: Int, wholeDoubles: Bool) -> MLJSONValue {
        switch random.index(below: depth > 2 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(random.index(below: 2) == 0)
        case 2: return .int([0, -1, 42, .max, .min, 1_700_000_000_000][random.index(below: 6)])
        case 3:
            let doubles = [0.5, -3.25, 1e-300, 1.7976931348623157e308, 0.1, 123456.789]
            return .double(wholeDoubles && random.index(below: 4) == 0 ? 3.0 : doubles[random.index(below: doubles.count)])
        case 4: return .string(strings[random.index(below: strings.count)])
        case 5: return .array((0..<random.index(below: 4)).map { _ in randomValue(&random, depth: depth + 1, wholeDoubles: wholeDoubles) })
        default: return .object(randomObject(&random, depth: depth + 1, wholeDoubles: wholeDoubles))
        }
    }

    static func randomObject(_ random: inout SplitMix64, depth: Int, wholeDoubles: Bool) -> MLJSONObject {
        var object: MLJSONObject = [:]
        for _ in 0..<random.index(below: 4) {
            object[strings[random.index(below: strings.count)] + "\(random.index(below: 3))"] =
                randomValue(&random, depth: depth, wholeDoubles: wholeDoubles)
        }
        return object
    }

    static func randomJob(_ random: inout SplitMix64, wholeDoubles: Bool) -> MLJob {
        func maybe<T>(_ value: T) -> T? { random.index(below: 2) == 0 ? nil : value }
        let id = UInt128(random.next()) << 64 | UInt128(random.next())
        let statuses: [MLJob.Status] = [.queued, .running, .completed, .failed, .cancelled]
        return MLJob(
            id: id, kind: MLJob.Kind(rawValue: strings[random.index(below: strings.count)] + "k"),
            target: strings[random.index(below: strings.count)], status: statuses[random.index(below: statuses.count)],
            progress: [0, 12.5, 100, 33.333333333333336][random.index(below: 4)], queue: ["default", "gpu"][random.index(below: 2)],
            priority: [0, -5, 10][random.index(below: 3)], attempt: random.index(below: 5), failures: random.index(below: 3),
            maxAttempts: 1 + random.index(below: 5), error: maybe(strings[random.index(below: strings.count)]),
            spec: randomObject(&random, depth: 0, wholeDoubles: wholeDoubles),
            metrics: maybe(randomObject(&random, depth: 0, wholeDoubles: wholeDoubles)),
            checkpoint: maybe(randomObject(&random, depth: 0, wholeDoubles: wholeDoubles)),
            checkpointBytes: maybe(MLJob.CheckpointBytes(sha256: String(repeating: "ab", count: 32), size: 1 << 40)),
            createdAtMs: 1_764_000_000_000 + Int64(random.index(below: 1000)), startedAtMs: maybe(1_764_000_000_500),
            finishedAtMs: maybe(1_764_000_000_900), runAtMs: 1_764_000_000_001, uniqueKey: maybe("unique ✓"),
            timeoutMs: maybe(30_000), worker: maybe("host:12:ab"), leaseExpiresAtMs: maybe(1_764_000_004_000),
            cancelRequested: random.index(below: 2) == 0, eventCount: random.index(below: 9), updatedAtMs: 1_764_000_001_000,
            leaseExpiries: random.index(below: 3))
    }

    /// One change to ``template`` and what the fast path should make of it (`nil`: either).
    struct Variant: CustomTestStringConvertible, Sendable {
        var name: String
        var replace: String
        var with: String
        var quick: Bool?
        var testDescription: String { name }
    }

    static let template = #"{"attempt":1,"cancel_requested":false,"created_at_ms":1764000000000,"error":null,"event_count":2,"failures":0,"finished_at_ms":null,"id":"0192f0a1b2c3d4e5f60718293a4b5c6d","kind":"train","lease_expires_at_ms":null,"max_attempts":3,"priority":0,"progress":12.5,"queue":"default","run_at_ms":1764000000000,"spec":{"rows":10},"started_at_ms":null,"status":"queued","target":"churn","timeout_ms":null,"unique_key":null,"updated_at_ms":1764000000000,"worker":null}"#

    static let variants: [Variant] = [
        Variant(name: "as written", replace: "", with: "", quick: true),
        Variant(name: "whitespace after a colon", replace: #""attempt":1"#, with: #""attempt": 1"#, quick: true),
        // As PostgreSQL's jsonb writes a record (a claim it made), with more kinds of whitespace around.
        Variant(name: "whitespace between every token", replace: template,
                with: " \n{\t" + template.dropFirst().dropLast()
                    .replacingOccurrences(of: ":", with: " :\r\n ").replacingOccurrences(of: ",", with: " , ")
                    .replacingOccurrences(of: "{", with: "{ ").replacingOccurrences(of: "}", with: " }") + " }\n",
                quick: true),
        Variant(name: "whitespace in a spec's arrays", replace: #""spec":{"rows":10}"#, with: #""spec":{ "a" : [ 1 , [ ] , { } ] }"#,
                quick: true),
        Variant(name: "a form feed, which JSON does not allow", replace: #""attempt":1"#, with: "\"attempt\":\u{0C}1", quick: false),
        Variant(name: "a key twice", replace: #""attempt":1,"#, with: #""attempt":1,"attempt":2,"#, quick: false),
        Variant(name: "an unknown key", replace: #""attempt":1,"#, with: #""attempt":1,"future":[1,2],"#, quick: false),
        Variant(name: "a required field null", replace: #""kind":"train""#, with: #""kind":null"#, quick: false),
        Variant(name: "a required field missing", replace: #""target":"churn","#, with: "", quick: false),
        Variant(name: "optional fields missing", replace: #""event_count":2,"failures":0,"#, with: "", quick: true),
        Variant(name: "progress null", replace: #""progress":12.5"#, with: #""progress":null"#, quick: true),
        Variant(name: "progress an integer", replace: #""progress":12.5"#, with: #""progress":12"#, quick: true),
        Variant(name: "progress with an exponent", replace: #""progress":12.5"#, with: #""progress":1.25E1"#, quick: true),
        Variant(name: "an integer as a whole double", replace: #""attempt":1"#, with: #""attempt":1.0"#, quick: false),
        Variant(name: "an integer with an exponent", replace: #""attempt":1"#, with: #""attempt":1e0"#, quick: false),
        Variant(name: "an integer with a fraction", replace: #""attempt":1"#, with: #""attempt":1.5"#, quick: false),
        Variant(name: "minus zero", replace: #""priority":0"#, with: #""priority":-0"#, quick: false),
        Variant(name: "a leading zero", replace: #""priority":0"#, with: #""priority":07"#, quick: false),
        Variant(name: "the smallest Int64", replace: #""priority":0"#, with: #""priority":-9223372036854775808"#, quick: true),
        Variant(name: "past Int64", replace: #""created_at_ms":1764000000000"#, with: #""created_at_ms":9223372036854775808"#, quick: false),
        Variant(name: "a bool for an int", replace: #""attempt":1"#, with: #""attempt":true"#, quick: false),
        Variant(name: "an int for a bool", replace: #""cancel_requested":false"#, with: #""cancel_requested":0"#, quick: false),
        Variant(name: "a string for an int", replace: #""attempt":1"#, with: #""attempt":"1""#, quick: false),
        Variant(name: "an id too short", replace: #""id":"0192f0a1b2c3d4e5f60718293a4b5c6d""#, with: #""id":"0192""#, quick: false),
        Variant(name: "escapes in a string", replace: #""target":"churn""#, with: #""target":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83c\udf89""#, quick: true),
        Variant(name: "a lone high surrogate", replace: #""target":"churn""#, with: #""target":"\ud800x""#, quick: false),
        Variant(name: "a lone low surrogate", replace: #""target":"churn""#, with: #""target":"\udc00""#, quick: false),
        Variant(name: "an unknown escape", replace: #""target":"churn""#, with: #""target":"\x41""#, quick: false),
        Variant(name: "a raw control character", replace: #""target":"churn""#, with: "\"target\":\"a\u{1}b\"", quick: false),
        Variant(name: "a spec with doubles", replace: #""spec":{"rows":10}"#, with: #""spec":{"a":0.5,"b":-1.5e-7,"c":[1,2.25]}"#, quick: true),
        Variant(name: "a spec with a whole double", replace: #""spec":{"rows":10}"#, with: #""spec":{"a":2.0}"#, quick: false),
        Variant(name: "a spec with a whole double past Int64", replace: #""spec":{"rows":10}"#, with: #""spec":{"a":1e19,"b":-9.3e18}"#, quick: true),
        Variant(name: "a spec with the smallest Int64 as a double", replace: #""spec":{"rows":10}"#, with: #""spec":{"a":-9.223372036854775808e18}"#, quick: false),
        Variant(name: "a spec with a huge integer", replace: #""spec":{"rows":10}"#, with: #""spec":{"a":123456789012345678901}"#, quick: false),
        Variant(name: "a spec key twice", replace: #""spec":{"rows":10}"#, with: #""spec":{"a":1,"a":2}"#, quick: false),
        Variant(name: "spec keys equal to Swift", replace: #""spec":{"rows":10}"#, with: "\"spec\":{\"\u{E9}\":1,\"e\u{301}\":2}", quick: false),
        Variant(name: "a spec null", replace: #""spec":{"rows":10}"#, with: #""spec":null"#, quick: true),
        Variant(name: "a spec that is an array", replace: #""spec":{"rows":10}"#, with: #""spec":[1]"#, quick: false),
        Variant(name: "checkpoint bytes", replace: #""error":null,"#, with: #""checkpoint_bytes":{"sha256":"ab","size":3},"error":null,"#, quick: true),
        Variant(name: "checkpoint bytes without a size", replace: #""error":null,"#, with: #""checkpoint_bytes":{"sha256":"ab"},"error":null,"#, quick: false),
        Variant(name: "trailing bytes", replace: #""worker":null}"#, with: #""worker":null}x"#, quick: false),
        Variant(name: "truncated", replace: #""worker":null}"#, with: #""worker":nul"#, quick: false),
        Variant(name: "a float past Double", replace: #""progress":12.5"#, with: #""progress":1e400"#, quick: false),
    ]
}
