import RedML
import Testing

@testable import RedMLCore

/// The in-memory index against a brute-force model, with a small
/// key alphabet (so prefixes, cursors and absent keys collide), keys removed
/// and re-put between pages, queue-style front removals (head), and bulk
/// loads that force rebuilds while the head is non-zero.
@Suite("In-memory index with short and non-ASCII keys")
struct InMemoryIndexFuzzTests {
    @Test(arguments: Array(UInt64(10)..<UInt64(18)))
    func fuzz(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let store = InMemoryMLPersistence()
        var model = Set<String>()
        let alphabet = ["a", "b", "é", "\u{10FFFF}", "z", "0"]
        func randomKey(_ random: inout SplitMix64) -> String {
            let length = 1 + random.index(below: 4)
            return (0..<length).map { _ in alphabet[random.index(below: alphabet.count)] }.joined()
        }
        func less(_ l: String, _ r: String) -> Bool { l.utf8.lexicographicallyPrecedes(r.utf8) }
        var serial = 0
        for step in 0..<800 {
            switch random.index(below: 12) {
            case 0...2:
                let key = randomKey(&random)
                try await store.put(namespace: "ns", key: key, value: "v")
                model.insert(key)
            case 3:  // many keys in order (splits), sometimes past the log limit (rebuild)
                let count = step % 97 == 0 ? [600, 1_500][random.index(below: 2)] : 10
                var batch = MLBatch()
                for _ in 0..<count {
                    serial += 1
                    let key = "q/" + String(format: "%07d", serial)
                    batch.put(namespace: "ns", key: key, value: "v")
                    model.insert(key)
                }
                try await store.commit(batch)
            case 4, 5:  // take from the front, as a queue does (head)
                let sorted = model.sorted(by: less)
                for key in sorted.prefix(random.index(below: 300)) {
                    try await store.delete(namespace: "ns", key: key)
                    model.remove(key)
                }
            case 6:  // delete and re-put before the next page
                if let key = model.randomElement(using: &random) {
                    try await store.delete(namespace: "ns", key: key)
                    try await store.put(namespace: "ns", key: key, value: "v")
                }
            case 7:  // put then delete a new key before the next page
                let key = randomKey(&random) + "!"
                try await store.put(namespace: "ns", key: key, value: "v")
                try await store.delete(namespace: "ns", key: key)
                model.remove(key)
            case 8:
                if let key = model.randomElement(using: &random) {
                    try await store.delete(namespace: "ns", key: key)
                    model.remove(key)
                }
            default:
                let sorted = model.sorted(by: less)
                let prefix: String? = random.index(below: 3) == 0 ? nil : String(randomKey(&random).prefix(1 + random.index(below: 2)))
                let after: String? = switch random.index(below: 4) {
                case 0: nil
                case 1 where !sorted.isEmpty: sorted[random.index(below: sorted.count)]
                default: randomKey(&random)
                }
                let order: MLSortOrder = random.index(below: 2) == 0 ? .ascending : .descending
                let limit = 1 + random.index(below: 30)
                var expected = sorted.filter { key in prefix.map { p in key.utf8.starts(with: p.utf8) } ?? true }
                if order.isDescending { expected.reverse() }
                if let after { expected = expected.filter { order.isDescending ? less($0, after) : less(after, $0) } }
                let page = try await store.page(namespace: "ns", MLPageRequest(after: after, prefix: prefix, limit: limit, order: order))
                #expect(page.entries.map(\.key) == Array(expected.prefix(limit)),
                        "seed \(seed) step \(step): prefix \(prefix ?? "-") after \(after ?? "-") \(order)")
                #expect((page.nextCursor != nil) == (expected.count > limit))
            }
        }
        // Whole walks both ways.
        for order in [MLSortOrder.ascending, .descending] {
            var seen: [String] = []
            var request = MLPageRequest(limit: 37, order: order)
            while true {
                let page = try await store.page(namespace: "ns", request)
                seen += page.entries.map(\.key)
                guard let cursor = page.nextCursor else { break }
                request.after = cursor
            }
            let expected = model.sorted(by: less)
            #expect(seen == (order == .ascending ? expected : expected.reversed()))
        }
    }
}
