import RedMLPersistence

/// `list` returns exactly one namespace, however names and keys overlap.
enum ListCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("list.exactNamespaceWithPrefixKeysAndNamespaces") { fixture in
            let store = try await fixture.makeStore()
            let keys = ["a", "ab", "abc", "abd", "b", "a/b", "a\u{0001}"]
            for namespace in ["job", "jobs", "jobs2", "jobs/x", "Jobs"] {
                for key in keys {
                    try await store.put(namespace: namespace, key: key, value: "\(namespace):\(key)")
                }
            }
            for namespace in ["job", "jobs", "jobs2", "jobs/x", "Jobs"] {
                let expected = keys.map { "\($0)=\(namespace):\($0)" }.sorted()
                try expectEqual(try await Support.listed(store, namespace), expected, "list(\(namespace))")
            }
            try expectEqual(try await store.list(namespace: "jo").count, 0, "entries of namespace jo, never written")
            try expectEqual(try await store.list(namespace: "").count, 0, "entries of the empty namespace")
        },
        MLConformanceCase("list.followsDeletesAndBatches") { fixture in
            let store = try await fixture.makeStore()
            for index in 0..<50 {
                try await store.put(namespace: "jobs", key: "k\(index)", value: "\(index)")
            }
            for index in stride(from: 0, to: 50, by: 2) {
                try await store.delete(namespace: "jobs", key: "k\(index)")
            }
            try await Support.commit(store) { batch in
                batch.put(namespace: "jobs", key: "k100", value: "100")
                batch.delete(namespace: "jobs", key: "k1")
                batch.put(namespace: "jobs2", key: "k3", value: "other")
            }
            let expected = (stride(from: 3, to: 50, by: 2).map { $0 } + [100]).map { "k\($0)=\($0)" }.sorted()
            try expectEqual(try await Support.listed(store, "jobs"), expected, "list(jobs) after deletes and a batch")
            try expectEqual(try await Support.listed(store, "jobs2"), ["k3=other"], "list(jobs2)")
        },
    ]
}
