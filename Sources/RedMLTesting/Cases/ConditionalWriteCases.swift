import RedMLPersistence

/// Put-if-absent, compare-and-swap, delete-if-revision and require.
enum ConditionalWriteCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("condition.putIfAbsent") { fixture in
            let store = try await fixture.makeStore()
            let revision = try await Support.commit(store) {
                $0.put(namespace: "models", key: "spam", value: "first", if: .absent)
            }
            let error = try await expectThrows(code: "conflict", "put-if-absent on an existing key") {
                try await Support.commit(store) {
                    $0.put(namespace: "models", key: "spam", value: "second", if: .absent)
                }
            }
            try Support.expectConflict(error, namespace: "models", key: "spam", expected: .absent, found: revision)
            try expectEqual(
                try await store.get(namespace: "models", key: "spam"), "first", "value after the failed put")
            // Absent in one namespace does not depend on another.
            try await Support.commit(store) { $0.put(namespace: "models2", key: "spam", value: "x", if: .absent) }
        },
        MLConformanceCase("condition.compareAndSwapOnRevision") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "models", key: "m", value: "1")
            let first = try await store.entry(namespace: "models", key: "m")!.revision
            let second = try await Support.commit(store) {
                $0.put(namespace: "models", key: "m", value: "2", if: .revision(first))
            }
            try expectEqual(try await store.get(namespace: "models", key: "m"), "2", "value after a CAS")
            let error = try await expectThrows(code: "conflict", "CAS on a stale revision") {
                try await Support.commit(store) {
                    $0.put(namespace: "models", key: "m", value: "3", if: .revision(first))
                }
            }
            try Support.expectConflict(error, namespace: "models", key: "m", expected: .revision(first), found: second)
            try expectEqual(try await store.get(namespace: "models", key: "m"), "2", "value after a stale CAS")
            let missing = try await expectThrows(code: "conflict", "CAS on a key that does not exist") {
                try await Support.commit(store) {
                    $0.put(namespace: "models", key: "none", value: "x", if: .revision(first))
                }
            }
            try Support.expectConflict(
                missing, namespace: "models", key: "none", expected: .revision(first), found: nil)
            try await Support.commit(store) { $0.put(namespace: "models", key: "m", value: "3", if: .present) }
            try expectEqual(try await store.get(namespace: "models", key: "m"), "3", "value after put-if-present")
        },
        MLConformanceCase("condition.deleteIfRevision") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "j", value: "1")
            let first = try await store.entry(namespace: "jobs", key: "j")!.revision
            try await store.put(namespace: "jobs", key: "j", value: "2")
            let second = try await store.entry(namespace: "jobs", key: "j")!.revision
            let error = try await expectThrows(code: "conflict", "delete at a stale revision") {
                try await Support.commit(store) { $0.delete(namespace: "jobs", key: "j", if: .revision(first)) }
            }
            try Support.expectConflict(error, namespace: "jobs", key: "j", expected: .revision(first), found: second)
            try expectEqual(try await store.get(namespace: "jobs", key: "j"), "2", "value after the refused delete")
            try await Support.commit(store) { $0.delete(namespace: "jobs", key: "j", if: .revision(second)) }
            try expectEqual(
                try await store.get(namespace: "jobs", key: "j"), nil, "value after delete at the current revision")
            let gone = try await expectThrows(code: "conflict", "delete-if-present of a missing key") {
                try await Support.commit(store) { $0.delete(namespace: "jobs", key: "j", if: .present) }
            }
            try Support.expectConflict(gone, namespace: "jobs", key: "j", expected: .present, found: nil)
            try await Support.commit(store) { $0.delete(namespace: "jobs", key: "j") }  // unconditional: fine
        },
        MLConformanceCase("condition.require") { fixture in
            let store = try await fixture.makeStore()
            let error = try await expectThrows(code: "conflict", "require present of a missing key") {
                try await Support.commit(store) { batch in
                    batch.require(namespace: "models", key: "spam", .present)
                    batch.put(namespace: "jobs", key: "j", value: "train spam")
                }
            }
            try Support.expectConflict(error, namespace: "models", key: "spam", expected: .present, found: nil)
            try expectEqual(try await store.get(namespace: "jobs", key: "j"), nil, "jobs/j after the failed require")
            try await store.put(namespace: "models", key: "spam", value: "{}")
            let revision = try await store.entry(namespace: "models", key: "spam")!.revision
            try await Support.commit(store) { batch in
                batch.require(namespace: "models", key: "spam", .revision(revision))
                batch.put(namespace: "jobs", key: "j", value: "train spam")
            }
            try expectEqual(
                try await store.entry(namespace: "models", key: "spam")?.revision, revision,
                "revision of models/spam after a require, which writes nothing")
            let absent = try await expectThrows(code: "conflict", "require absent of an existing key") {
                try await Support.commit(store) { $0.require(namespace: "models", key: "spam", .absent) }
            }
            try Support.expectConflict(absent, namespace: "models", key: "spam", expected: .absent, found: revision)
        },
        MLConformanceCase("condition.conflictDescriptionNamesTheEntry") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "model_versions", key: "fraud@v12", value: "{}")
            let error = try await expectThrows(code: "conflict", "put-if-absent on an existing key") {
                try await Support.commit(store) {
                    $0.put(namespace: "model_versions", key: "fraud@v12", value: "x", if: .absent)
                }
            }
            let text = error.description
            try expect(
                text.contains("model_versions"), "conflict description should name the namespace, found \"\(text)\"")
            try expect(text.contains("fraud@v12"), "conflict description should name the key, found \"\(text)\"")
        },
    ]
}
