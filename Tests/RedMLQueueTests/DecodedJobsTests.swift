import Foundation
import RedML
@testable import RedMLQueue
import Testing

/// The cache of submitted jobs must give a claim exactly what decoding the
/// stored record would, or a handler would see a spec that depends on luck.
@Suite("Decoded-job cache")
struct DecodedJobsTests {
    static let specs: [MLJSONObject] = [
        [:],
        ["rows": .int(1_000), "name": .string("a \"quoted\" / ünïcode ✓ \n line"), "flag": .bool(true), "none": .null],
        ["rate": .double(0.125), "tiny": .double(1e-300), "negative": .double(-3.5)],
        ["nested": .object(["list": .array([.int(-1), .string(""), .array([]), .object([:]), .double(2.5)])])],
        ["whole": .double(2.0)],
        ["nested": .array([.object(["big": .double(1e300)])])],
        ["zero": .double(-0.0)],
    ]

    @Test("a spec the cache accepts decodes back to the very same cases; the others are refused",
          arguments: specs.indices)
    func acceptedSpecsReadBackExactly(index: Int) async throws {
        let spec = Self.specs[index]
        let store = InMemoryMLPersistence()
        let queue = MLJobQueue(store: store)
        let job = try await queue.submitJob(MLJobSubmission(kind: .train, target: "m", spec: spec))
        let stored = try #require(try await store.get(namespace: MLNamespace.jobs, key: job.key))
        let decoded = try MLJSON.decode(MLJob.self, from: stored, namespace: MLNamespace.jobs, key: job.key)
        let exact = Self.same(.object(decoded.spec), .object(spec))
        #expect(DecodedJobs.readsBackExactly(spec) == (index < 4), "spec \(spec)")
        if DecodedJobs.readsBackExactly(spec) {
            #expect(exact, "decoded \(decoded.spec), submitted \(spec)")
            #expect(decoded.storedJSON == job.storedJSON)
        }
    }

    @Test("a remembered job is found only by the exact text it was stored as, and a claim may forget it")
    func lookupsNeedTheExactText() async throws {
        let cache = DecodedJobs()
        let queue = MLJobQueue(store: InMemoryMLPersistence())
        let job = try await queue.submitJob(MLJobSubmission(kind: .train, target: "m"))
        cache.remember([job], storedAs: [job.storedJSON])
        #expect(cache.job(job.key, storedAs: job.storedJSON + " ") == nil)
        #expect(cache.job(job.key, storedAs: job.storedJSON)?.id == job.id)
        #expect(cache.job(job.key, storedAs: job.storedJSON, forget: true)?.id == job.id)
        #expect(cache.job(job.key, storedAs: job.storedJSON) == nil)
    }

    @Test("a record changed since it was submitted is read from the store, not from the cache")
    func aChangedRecordIsDecoded() async throws {
        let store = InMemoryMLPersistence()
        let queue = MLJobQueue(store: store)
        let job = try await queue.submitJob(MLJobSubmission(kind: .train, target: "before"))
        var changed = job
        changed.target = "after"
        // Behind the queue's back, and at a revision the cache has never seen either way.
        try await store.put(namespace: MLNamespace.jobs, key: job.key, value: changed.storedJSON)
        #expect(try await queue.job(job.id)?.target == "after")
        let claimed = try await queue.claim(queue: "default", worker: "w", leaseMs: 1_000, limit: 1)
        #expect(claimed.map(\.job.target) == ["after"])
    }

    @Test("a record longer than the largest kept is not remembered")
    func bigRecordsAreNotKept() async throws {
        let cache = DecodedJobs()
        let queue = MLJobQueue(store: InMemoryMLPersistence())
        let small = try await queue.submitJob(MLJobSubmission(kind: .train, target: "small"))
        let big = try await queue.submitJob(MLJobSubmission(
            kind: .train, target: "big", spec: ["text": .string(String(repeating: "x", count: DecodedJobs.largestRecord))]))
        cache.remember([small, big], storedAs: [small.storedJSON, big.storedJSON])
        #expect(cache.job(small.key, storedAs: small.storedJSON) != nil)
        #expect(cache.job(big.key, storedAs: big.storedJSON) == nil)
    }

    @Test("memory stays bounded: a job falls out after two generations of others")
    func boundedByTwoGenerations() async throws {
        let cache = DecodedJobs()
        let queue = MLJobQueue(store: InMemoryMLPersistence())
        let first = try await queue.submitJob(MLJobSubmission(kind: .train, target: "first"))
        cache.remember([first], storedAs: [first.storedJSON])
        let others = try await queue.submitJobs(
            (0..<(2 * DecodedJobs.capacity)).map { MLJobSubmission(kind: .train, target: "t\($0)") })
        let older = Array(others.prefix(DecodedJobs.capacity))
        let newer = Array(others.suffix(DecodedJobs.capacity))
        cache.remember(older, storedAs: older.map(\.storedJSON))
        #expect(cache.job(first.key, storedAs: first.storedJSON) != nil, "one generation later it is still there")
        cache.remember(newer, storedAs: newer.map(\.storedJSON))
        #expect(cache.job(first.key, storedAs: first.storedJSON) == nil)
        #expect(cache.job(newer.last!.key, storedAs: newer.last!.storedJSON) != nil)
    }

    /// Equal cases all the way down (`==` on MLJSONValue lets `2` equal `2.0`),
    /// and strings and keys byte for byte (`==` on String lets `é` equal `e` and an accent).
    static func same(_ a: MLJSONValue, _ b: MLJSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { key, value in
                y.first { $0.key.utf8.elementsEqual(key.utf8) }.map { same(value, $0.value) } ?? false
            }
        default: false
        }
    }
}
