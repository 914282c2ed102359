import Foundation
import RedML
import RedMLTestFixtures
import RedMLTesting
import Synchronization
import Testing

// MARK: Clock

/// A wall clock the test moves by hand. Starts on a whole second and moves in
/// whole seconds by default, so the Date ↔ milliseconds round trip is exact.
final class FakeClock: Sendable {
    private let ms: Mutex<Int64>

    init(startMs: Int64 = 1_700_000_000_000) {
        ms = Mutex(startMs)
    }

    var nowMs: Int64 { ms.withLock { $0 } }
    var now: Date { Self.date(nowMs) }

    func advance(seconds: Int64 = 1) {
        ms.withLock { $0 += seconds * 1_000 }
    }

    func set(ms value: Int64) {
        ms.withLock { $0 = value }
    }

    static func date(_ ms: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(ms) / 1_000)
    }
}

// MARK: Registries

func configuration(clock: FakeClock? = nil) -> MLModelRegistry.Configuration {
    var configuration = MLModelRegistry.Configuration()
    if let clock {
        configuration.currentTime = { clock.now }
    }
    return configuration
}

/// A fresh store of the fixture's backend and a registry over it.
func makeRegistry(
    _ fixture: MLStoreFixture, clock: FakeClock? = nil
) async throws -> (store: any MLStore, registry: MLModelRegistry) {
    let store = try await fixture.makeStore()
    return (store, MLModelRegistry(store: store, configuration: configuration(clock: clock)))
}

func bytes(_ text: String) -> Data { Data(text.utf8) }

/// Registers a version of `model` with `weights` (default: unique-ish bytes).
@discardableResult
func register(
    _ registry: MLModelRegistry, _ model: String, weights: String? = nil, activate: Bool = true,
    tags: [String: String] = [:], by actor: String? = nil
) async throws -> MLModelVersion {
    try await registry.register(
        MLRegistration(model: model, createdBy: actor, tags: tags, activate: activate),
        weights: bytes(weights ?? "weights-\(model)-\(UUID().uuidString)"))
}

// MARK: Errors

/// Runs `body`, which must fail with an ``MLRegistryError`` of `code` whose
/// message contains every string of `mentioning`. Returns the error.
@discardableResult
func expectRegistryError<R>(
    _ code: MLRegistryError.Code, mentioning: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> R
) async -> MLRegistryError? {
    do {
        let result = try await body()
        Issue.record("expected error \(code), but the call returned \(result)", sourceLocation: sourceLocation)
        return nil
    } catch let error as MLRegistryError {
        #expect(error.code == code, "wrong code; message: \(error.message)", sourceLocation: sourceLocation)
        for text in mentioning {
            #expect(error.message.contains(text), "message '\(error.message)' does not mention '\(text)'",
                    sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected MLRegistryError \(code), got \(type(of: error)): \(error)",
                     sourceLocation: sourceLocation)
        return nil
    }
}

// MARK: Store snapshots

/// Everything the registry keeps in a store: its four namespaces, sorted by
/// key, and the committed blobs.
struct StoreSnapshot: Equatable, CustomStringConvertible {
    var namespaces: [String: [String: String]]
    var blobs: [MLBlobInfo]

    var description: String {
        namespaces.keys.sorted().map { "\($0): \(namespaces[$0]!.count) entries" }.joined(separator: ", ")
            + ", blobs: \(blobs.count)"
    }
}

let registryNamespaces = [
    MLNamespace.models, MLNamespace.modelVersions, MLNamespace.modelHistory, MLNamespace.modelWeights,
]

func snapshot(_ store: any MLStore) async throws -> StoreSnapshot {
    var namespaces: [String: [String: String]] = [:]
    for namespace in registryNamespaces {
        var entries: [String: String] = [:]
        for (key, value) in try await store.list(namespace: namespace) {
            #expect(entries[key] == nil, "duplicate key \(key) in \(namespace)")
            entries[key] = value
        }
        namespaces[namespace] = entries
    }
    return StoreSnapshot(namespaces: namespaces, blobs: try await allBlobs(store))
}

/// A summary as comparable fields (``MLModelSummary`` has no public initializer).
struct SummaryFields: Equatable {
    var name: String
    var active: UInt32?
    var total: Int
    var archived: Int

    init(_ name: String, active: UInt32?, total: Int, archived: Int) {
        self.name = name
        self.active = active
        self.total = total
        self.archived = archived
    }

    init(_ summary: MLModelSummary) {
        self.init(summary.name, active: summary.activeVersion, total: summary.totalVersions,
                  archived: summary.archivedVersions)
    }
}

func summaryFields(_ registry: MLModelRegistry) async throws -> [SummaryFields] {
    try await registry.summaries().map(SummaryFields.init)
}

func allBlobs(_ store: any MLStore) async throws -> [MLBlobInfo] {
    var result: [MLBlobInfo] = []
    var after: String?
    while true {
        let page = try await store.blobs(after: after, limit: 100)
        result += page
        guard page.count == 100, let last = page.last else { return result }
        after = last.sha256
    }
}

/// The reference-count record the registry keeps per weights blob (decoded
/// here from its stored JSON, independently of the registry's internal type).
struct StoredUsage: Decodable, Equatable {
    var sha256: String
    var references: Int
}

func usage(_ store: any MLStore, _ sha256: String) async throws -> StoredUsage? {
    guard let value = try await store.get(namespace: MLNamespace.modelWeights, key: sha256) else { return nil }
    return try JSONDecoder().decode(StoredUsage.self, from: Data(value.utf8))
}

/// Every event of a model, oldest first, through the public paging API.
func allEvents(_ registry: MLModelRegistry, _ model: String) async throws -> [MLRegistryEvent] {
    var events: [MLRegistryEvent] = []
    var query = MLHistoryQuery(limit: 1_000)
    while true {
        let page = try await registry.history(of: model, query)
        #expect(page.skipped.isEmpty)
        events += page.events
        guard let cursor = page.nextCursor else { return events }
        query.after = cursor
    }
}

// MARK: Byte streams

/// Yields `data` cut into pieces of the given sizes (cycled).
struct ChunkedBytes: AsyncSequence, Sendable {
    typealias Element = Data
    let data: Data
    let sizes: [Int]

    func makeAsyncIterator() -> Iterator { Iterator(data: data, sizes: sizes) }

    struct Iterator: AsyncIteratorProtocol {
        let data: Data
        let sizes: [Int]
        var offset = 0
        var turn = 0

        mutating func next() async throws -> Data? {
            guard offset < data.count else { return nil }
            let size = Swift.min(sizes[turn % sizes.count], data.count - offset)
            turn += 1
            defer { offset += size }
            return data.subdata(in: offset..<(offset + size))
        }
    }
}

/// `count` bytes that are not all the same and differ per `seed`.
func patternedBytes(count: Int, seed: UInt8) -> Data {
    var buffer = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        buffer[index] = UInt8(truncatingIfNeeded: index &* 31 &+ Int(seed) &+ index >> 8)
    }
    return Data(buffer)
}

/// A per-process scratch folder under the temporary directory.
func scratchFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("redml-registry-tests-\(ProcessInfo.processInfo.processIdentifier)")
        .appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}
