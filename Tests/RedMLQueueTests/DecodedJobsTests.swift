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

    @Test("a remembered job is found only at the revision it was stored at, and a claim may forget it")
    func lookupsNeedTheRevision() async throws {
        let cache = DecodedJobs()
        let store = InMemoryMLPersistence()
        let queue = MLJobQueue(store: store)
        let job = try await queue.submitJob(MLJobSubmission(kind: .train, target: "m"))
        cache.remember([job], at: MLRevision(rawValue: 7))
        #expect(cache.job(job.key, at: MLRevision(rawValue: 8)) == nil)
        #expect(cache.job(job.key, at: MLRevision(rawValue: 7))?.id == job.id)
        #expect(cache.job(job.key, at: MLRevision(rawValue: 7), forget: true)?.id == job.id)
        #expect(cache.job(job.key, at: MLRevision(rawValue: 7)) == nil)
    }

    @Test("memory stays bounded: a job falls out after two generations of others")
    func boundedByTwoGenerations() async throws {
        let cache = DecodedJobs()
        let queue = MLJobQueue(store: InMemoryMLPersistence())
        let first = try await queue.submitJob(MLJobSubmission(kind: .train, target: "first"))
        cache.remember([first], at: MLRevision(rawValue: 1))
        let others = try await queue.submitJobs(
            (0..<(2 * DecodedJobs.capacity)).map { MLJobSubmission(kind: .train, target: "t\($0)") })
        cache.remember(others.prefix(DecodedJobs.capacity), at: MLRevision(rawValue: 2))
        #expect(cache.job(first.key, at: MLRevision(rawValue: 1)) != nil, "one generation later it is still there")
        cache.remember(others.suffix(DecodedJobs.capacity), at: MLRevision(rawValue: 3))
        #expect(cache.job(first.key, at: MLRevision(rawValue: 1)) == nil)
        #expect(cache.job(others.last!.key, at: MLRevision(rawValue: 3)) != nil)
    }

    /// Equal cases all the way down (`==` on MLJSONValue lets `2` equal `2.0`).
    static func same(_ a: MLJSONValue, _ b: MLJSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default: false
        }
    }
}
