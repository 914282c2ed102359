import RedMLPersistence

/// The seed's own tests, through the seed's four operations.
enum SeedCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("seed.putThenGet") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "abc", value: #"{"status":"queued"}"#)
            try expectEqual(
                try await store.get(namespace: "jobs", key: "abc"), #"{"status":"queued"}"#, "get jobs/abc after put")
        },
        MLConformanceCase("seed.getMissingIsNil") { fixture in
            let store = try await fixture.makeStore()
            try expectEqual(try await store.get(namespace: "jobs", key: "nope"), nil, "get of a key never written")
            try await store.put(namespace: "models", key: "nope", value: "{}")
            try expectEqual(
                try await store.get(namespace: "jobs", key: "nope"), nil,
                "get jobs/nope when only models/nope exists")
        },
        MLConformanceCase("seed.deleteIsIdempotent") { fixture in
            let store = try await fixture.makeStore()
            try await store.delete(namespace: "jobs", key: "missing")
            try await store.put(namespace: "jobs", key: "k", value: "v")
            try await store.delete(namespace: "jobs", key: "k")
            try expectEqual(try await store.get(namespace: "jobs", key: "k"), nil, "get jobs/k after delete")
            try await store.delete(namespace: "jobs", key: "k")
            try expectEqual(try await store.get(namespace: "jobs", key: "k"), nil, "get jobs/k after a second delete")
            try expectEqual(try await store.list(namespace: "jobs").count, 0, "entries left in jobs")
        },
        MLConformanceCase("seed.listScopesToNamespace") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "j1", value: "a")
            try await store.put(namespace: "jobs", key: "j2", value: "b")
            try await store.put(namespace: "models", key: "spam", value: "{}")
            try expectEqual(try await Support.listed(store, "jobs"), ["j1=a", "j2=b"], "list(jobs)")
            try expectEqual(try await store.list(namespace: "models").count, 1, "number of entries in models")
        },
        MLConformanceCase("seed.putOverwrites") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "models", key: "spam", value: "v1")
            try await store.put(namespace: "models", key: "spam", value: "v2")
            try expectEqual(try await store.get(namespace: "models", key: "spam"), "v2", "get after overwrite")
            try expectEqual(try await Support.listed(store, "models"), ["spam=v2"], "list after overwrite")
        },
    ]
}
