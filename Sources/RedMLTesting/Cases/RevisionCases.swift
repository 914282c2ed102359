import RedMLPersistence

/// Revisions grow with every write and are never reused.
enum RevisionCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("revision.increasesOnEveryWrite") { fixture in
            let store = try await fixture.makeStore()
            try expectEqual(try await store.entry(namespace: "models", key: "m"), nil, "entry before any write")
            var previous: MLRevision?
            for round in 0..<5 {
                if round.isMultiple(of: 2) {
                    try await store.put(namespace: "models", key: "m", value: "v\(round)")
                } else {
                    try await Support.commit(store) { $0.put(namespace: "models", key: "m", value: "v\(round)") }
                }
                let entry = try expectNotNil(
                    try await store.entry(namespace: "models", key: "m"), "entry(models/m) after write \(round)")
                try expectEqual(entry.value, "v\(round)", "value after write \(round)")
                try expectEqual(entry.key, "m", "entry key")
                if let previous {
                    try expect(
                        entry.revision > previous,
                        "revision after write \(round): expected more than \(previous), found \(entry.revision)")
                }
                previous = entry.revision
            }
            // A write to another key moves the store's counter on too.
            try await store.put(namespace: "jobs", key: "other", value: "x")
            let other = try expectNotNil(try await store.entry(namespace: "jobs", key: "other"), "entry(jobs/other)")
            try expect(
                other.revision > previous!,
                "revision of a later write to another key: expected more than \(previous!), found \(other.revision)")
        },
        MLConformanceCase("revision.commitReturnsTheRevisionItWrote") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "models", key: "before", value: "x")
            let before = try await store.entry(namespace: "models", key: "before")!.revision
            let revision = try await Support.commit(store) { batch in
                batch.put(namespace: "models", key: "a", value: "1")
                batch.put(namespace: "jobs", key: "b", value: "2")
            }
            try expect(revision > before, "commit revision: expected more than \(before), found \(revision)")
            try expectEqual(
                try await store.entry(namespace: "models", key: "a")?.revision, revision, "revision of models/a")
            try expectEqual(
                try await store.entry(namespace: "jobs", key: "b")?.revision, revision, "revision of jobs/b")
            try expectEqual(
                try await store.entry(namespace: "models", key: "before")?.revision, before,
                "revision of models/before, not written by the batch")
        },
        MLConformanceCase("revision.deletedThenRewrittenGetsANewRevision") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "j", value: "same")
            let first = try await store.entry(namespace: "jobs", key: "j")!.revision
            try await store.delete(namespace: "jobs", key: "j")
            try expectEqual(try await store.entry(namespace: "jobs", key: "j"), nil, "entry after delete")
            try await store.put(namespace: "jobs", key: "j", value: "same")
            let second = try expectNotNil(try await store.entry(namespace: "jobs", key: "j"), "entry after rewrite")
            try expect(
                second.revision > first,
                "revision after delete and rewrite: expected more than \(first), found \(second.revision)")
            // Compare-and-swap on the old revision must fail: no ABA.
            let error = try await expectThrows(code: "conflict", "put if at the revision before the delete") {
                try await Support.commit(store) {
                    $0.put(namespace: "jobs", key: "j", value: "stale", if: .revision(first))
                }
            }
            try Support.expectConflict(
                error, namespace: "jobs", key: "j", expected: .revision(first), found: second.revision)
            try expectEqual(try await store.get(namespace: "jobs", key: "j"), "same", "value after the stale CAS")
            // The same through a batch delete and a batch rewrite.
            try await Support.commit(store) { $0.delete(namespace: "jobs", key: "j", if: .revision(second.revision)) }
            let third = try await Support.commit(store) {
                $0.put(namespace: "jobs", key: "j", value: "same", if: .absent)
            }
            try expect(
                third > second.revision,
                "revision after batch delete and rewrite: expected more than \(second.revision), found \(third)")
        },
    ]
}
