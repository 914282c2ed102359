import RedML
import Testing

@testable import RedMLCore

/// The in-memory store's sorted index against a model (a dictionary, sorted
/// on every read), through writes and deletes in random places and at the
/// front, as a queue makes them, with pages and claims in between: enough keys
/// for its chunks to split, merge and empty, and for its write log to be
/// replayed as well as dropped and rebuilt.
@Suite("In-memory index against a model")
struct InMemoryIndexModelTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func pagesAndClaimsMatchTheModel(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let store = InMemoryMLPersistence()
        var model = Model()
        var next = 0
        // Values name records, so that claims have candidates.
        for record in 0..<5 { try await store.put(namespace: "records", key: "r\(record)", value: "\(record)") }
        // A bulk load first: more writes than the index logs, so the first page sorts them all.
        var load = MLBatch()
        for _ in 0..<4_000 {
            next += 1
            let key = "\(["a", "b"][random.index(below: 2)])/\(String(format: "%07d", next))"
            load.put(namespace: "ns", key: key, value: "r\(next % 5)")
            model[key] = "r\(next % 5)"
        }
        try await store.commit(load)
        for step in 0..<6_000 {
            switch random.index(below: 9) {
            case 0...4:  // a new key at the end, as time-ordered keys come
                next += 1
                let key = "\(["a", "b"][random.index(below: 2)])/\(String(format: "%07d", next))"
                try await store.put(namespace: "ns", key: key, value: "r\(step % 5)")
                model[key] = "r\(step % 5)"
            case 5:  // a key in a random place, new or not
                let key = "\(["a", "b", "c"][random.index(below: 3)])/\(String(format: "%07d", random.index(below: next + 1)))"
                try await store.put(namespace: "ns", key: key, value: "r\(step % 3)")
                model[key] = "r\(step % 3)"
            case 6:  // the first key under a prefix, as a claim takes it
                if let first = model.sorted.first(where: { $0.hasPrefix("a/") }) ?? model.sorted.first {
                    try await store.delete(namespace: "ns", key: first)
                    model[first] = nil
                }
            case 7:  // a random key
                if let key = model.sorted.randomElement(using: &random) {
                    try await store.delete(namespace: "ns", key: key)
                    model[key] = nil
                }
            default:
                try await expectPagesMatch(store, model, &random)
            }
            if step % 1_500 == 0 {
                // A burst of deletes, at the front and in the middle, so that chunks empty and merge.
                let sorted = model.sorted
                for key in sorted.prefix(300) + sorted.dropFirst(sorted.count / 2).prefix(300)
                where random.index(below: 10) < 9 {
                    try await store.delete(namespace: "ns", key: key)
                    model[key] = nil
                }
                try await expectPagesMatch(store, model, &random)
            }
        }
        // A whole walk, both ways, page by page.
        for order in [MLSortOrder.ascending, .descending] {
            var seen: [String] = []
            var request = MLPageRequest(limit: 97, order: order)
            while true {
                let page = try await store.page(namespace: "ns", request)
                seen += page.entries.map(\.key)
                guard let cursor = page.nextCursor else { break }
                request.after = cursor
            }
            let expected = model.sorted
            #expect(seen == (order == .ascending ? expected : expected.reversed()))
        }
    }

    private func expectPagesMatch(
        _ store: InMemoryMLPersistence, _ model: Model, _ random: inout SplitMix64
    ) async throws {
        let sorted = model.sorted
        let prefix = [nil, "a/", "b/", "c/", "a/000"][random.index(below: 5)]
        // A stored key, a key just past one, or any key (often one deleted, often before them all).
        let after: String? = switch random.index(below: 4) {
        case 0 where !sorted.isEmpty: sorted[random.index(below: sorted.count)]
        case 1 where !sorted.isEmpty: sorted[random.index(below: sorted.count)] + "0"
        case 2: "\(["a", "b", "c"][random.index(below: 3)])/\(String(format: "%07d", random.index(below: 6_001)))"
        default: nil
        }
        let limit = 1 + random.index(below: 40)
        let order: MLSortOrder = random.index(below: 2) == 0 ? .ascending : .descending
        var expected = sorted.filter { prefix.map($0.hasPrefix) ?? true }
        if order == .descending { expected.reverse() }
        if let after {
            expected = expected.filter { order == .ascending ? Self.less(after, $0) : Self.less($0, after) }
        }
        let page = try await store.page(namespace: "ns", MLPageRequest(after: after, prefix: prefix, limit: limit, order: order))
        #expect(page.entries.map(\.key) == Array(expected.prefix(limit)), "prefix \(prefix ?? "-"), after \(after ?? "-"), \(order)")
        #expect(page.entries.allSatisfy { model[$0.key] == $0.value })
        #expect((page.nextCursor != nil) == (expected.count > limit))

        let claimPrefix = prefix ?? "a/"
        let claimAfter = random.index(below: 2) == 0 ? nil : after
        let (_, candidates) = try await store.claim(
            namespace: "ns", prefix: claimPrefix, after: claimAfter, limit: limit, recordNamespace: "records"
        ) { candidates in (MLBatch(), candidates.map { "\($0.entry.key)=\($0.record.key)" }) }
        let claimable = sorted.filter { key in
            key.hasPrefix(claimPrefix) && (claimAfter.map { Self.less($0, key) } ?? true)
        }
        #expect(candidates == claimable.prefix(limit).map { "\($0)=\(model[$0] ?? "")" })
    }

    private static func less(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.lexicographicallyPrecedes(rhs.utf8) }

    /// What the namespace should hold: values by key, and the keys in byte order.
    struct Model {
        private(set) var values: [String: String] = [:]
        private(set) var sorted: [String] = []

        subscript(key: String) -> String? {
            get { values[key] }
            set {
                var low = 0
                var high = sorted.count
                while low < high {
                    let mid = (low + high) / 2
                    if less(sorted[mid], key) { low = mid + 1 } else { high = mid }
                }
                let present = low < sorted.count && sorted[low] == key
                if newValue != nil, !present { sorted.insert(key, at: low) }
                if newValue == nil, present { sorted.remove(at: low) }
                values[key] = newValue
            }
        }
    }
}
