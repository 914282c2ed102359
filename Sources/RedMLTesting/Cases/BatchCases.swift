import RedMLPersistence

/// Batches apply every operation or none, in order.
enum BatchCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("batch.multiNamespaceAppliesAll") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: MLNamespace.jobs, key: "old", value: "gone soon")
            let revision = try await Support.commit(store) { batch in
                batch.put(namespace: MLNamespace.models, key: "spam", value: #"{"latest":3}"#)
                batch.put(namespace: MLNamespace.modelVersions, key: MLKey.modelVersion("spam", 3), value: "{}")
                batch.put(namespace: MLNamespace.jobs, key: MLKey.job(7), value: #"{"status":"queued"}"#)
                batch.delete(namespace: MLNamespace.jobs, key: "old")
            }
            try expectEqual(
                try await store.entry(namespace: MLNamespace.models, key: "spam"),
                MLEntry(key: "spam", value: #"{"latest":3}"#, revision: revision), "models/spam")
            try expectEqual(
                try await store.entry(namespace: MLNamespace.modelVersions, key: "spam@v3"),
                MLEntry(key: "spam@v3", value: "{}", revision: revision), "model_versions/spam@v3")
            try expectEqual(
                try await store.get(namespace: MLNamespace.jobs, key: MLKey.job(7)), #"{"status":"queued"}"#,
                "jobs/\(MLKey.job(7))")
            try expectEqual(
                try await store.get(namespace: MLNamespace.jobs, key: "old"), nil, "jobs/old, deleted by the batch")
        },
        MLConformanceCase("batch.failedLastConditionChangesNothing") { fixture in
            let store = try await fixture.makeStore()
            let namespaces = ["models", "model_versions", "jobs"]
            try await store.put(namespace: "models", key: "spam", value: "m1")
            try await store.put(namespace: "model_versions", key: "spam@v1", value: "v1")
            try await store.put(namespace: "jobs", key: "j1", value: "queued")
            try await store.put(namespace: "jobs", key: "j2", value: "running")
            let before = try await Support.snapshot(store, namespaces)
            let spamRevision = try await store.entry(namespace: "models", key: "spam")!.revision

            var batch = MLBatch()
            batch.put(namespace: "models", key: "spam", value: "m2", if: .revision(spamRevision))
            batch.put(namespace: "model_versions", key: "spam@v2", value: "v2", if: .absent)
            batch.delete(namespace: "jobs", key: "j1")
            batch.put(namespace: "jobs", key: "j2", value: "done")
            batch.put(namespace: "jobs", key: "j3", value: "new")
            batch.require(namespace: "jobs", key: "j4", .present)
            let error = try await expectThrows(code: "conflict", "a batch whose last condition fails") {
                try await store.commit(batch)
            }
            try Support.expectConflict(error, namespace: "jobs", key: "j4", expected: .present, found: nil)
            let after = try await Support.snapshot(store, namespaces)
            for namespace in namespaces {
                try expectEqual(after[namespace], before[namespace], "entries of \(namespace) after the failed batch")
            }
            try expectEqual(try await store.get(namespace: "jobs", key: "j3"), nil, "jobs/j3 after the failed batch")
            try expectEqual(
                try await store.get(namespace: "jobs", key: "j1"), "queued", "jobs/j1 after the failed batch")

            // The failure left no trace: the same batch without the bad check applies.
            var good = MLBatch()
            for operation in batch.operations.dropLast() {
                switch operation {
                case .put(let namespace, let key, let value, let condition):
                    good.put(namespace: namespace, key: key, value: value, if: condition)
                case .delete(let namespace, let key, let condition):
                    good.delete(namespace: namespace, key: key, if: condition)
                default: break
                }
            }
            try await store.commit(good)
            try expectEqual(
                try await store.get(namespace: "models", key: "spam"), "m2", "models/spam after the good batch")
            try expectEqual(try await store.get(namespace: "jobs", key: "j3"), "new", "jobs/j3 after the good batch")
        },
        MLConformanceCase("batch.failedMiddleConditionNamesItsEntry") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "models", key: "spam", value: "m1")
            let revision = try await store.entry(namespace: "models", key: "spam")!.revision
            let error = try await expectThrows(code: "conflict", "a batch with a put-if-absent on an existing key") {
                try await Support.commit(store) { batch in
                    batch.put(namespace: "jobs", key: "a", value: "1")
                    batch.put(namespace: "models", key: "spam", value: "m2", if: .absent)
                    batch.put(namespace: "jobs", key: "b", value: "2", if: .present)
                }
            }
            try Support.expectConflict(error, namespace: "models", key: "spam", expected: .absent, found: revision)
            try expect(
                error.description.contains("models") && error.description.contains("spam"),
                "conflict description should name models and spam, found \"\(error)\"")
            try expectEqual(try await store.list(namespace: "jobs").count, 0, "entries of jobs after the failed batch")
        },
        MLConformanceCase("batch.sequentialSemantics") { fixture in
            let store = try await fixture.makeStore()
            // Put-if-absent twice on one key: the second sees the first.
            let error = try await expectThrows(code: "conflict", "two put-if-absent on one key in one batch") {
                try await Support.commit(store) { batch in
                    batch.put(namespace: "jobs", key: "k", value: "first", if: .absent)
                    batch.put(namespace: "jobs", key: "k", value: "second", if: .absent)
                }
            }
            let parts = try Support.conflict(error)
            try expectEqual(parts.namespace, "jobs", "conflict namespace")
            try expectEqual(parts.key, "k", "conflict key")
            try expect(parts.found != nil, "conflict of the second put-if-absent: expected a revision found, found nil")
            try expectEqual(try await store.get(namespace: "jobs", key: "k"), nil, "jobs/k after the failed batch")

            // A put, then a check that the key is present.
            let revision = try await Support.commit(store) { batch in
                batch.put(namespace: "jobs", key: "k", value: "v", if: .absent)
                batch.require(namespace: "jobs", key: "k", .present)
            }
            try expectEqual(
                try await store.entry(namespace: "jobs", key: "k")?.revision, revision, "revision of jobs/k")

            // A delete, then a check that the key is absent, then a put-if-absent.
            try await Support.commit(store) { batch in
                batch.delete(namespace: "jobs", key: "k", if: .present)
                batch.require(namespace: "jobs", key: "k", .absent)
                batch.put(namespace: "jobs", key: "k", value: "again", if: .absent)
            }
            try expectEqual(try await store.get(namespace: "jobs", key: "k"), "again", "jobs/k after delete and re-put")

            // The last write of a key in a batch wins.
            try await Support.commit(store) { batch in
                batch.put(namespace: "jobs", key: "k", value: "one")
                batch.put(namespace: "jobs", key: "k", value: "two")
                batch.put(namespace: "jobs", key: "gone", value: "x")
                batch.delete(namespace: "jobs", key: "gone")
            }
            try expectEqual(
                try await Support.listed(store, "jobs"), ["k=two"], "list(jobs) after a batch that wrote k twice")
        },
        MLConformanceCase("batch.manyPutsApplyTogetherAndNameTheirConflict") { fixture in
            // Backends may apply a run of puts in one statement: it must behave as one put after another.
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "k30", value: "taken")
            let taken = try await store.entry(namespace: "jobs", key: "k30")!.revision
            let error = try await expectThrows(code: "conflict", "50 put-if-absent, one on an existing key") {
                try await Support.commit(store) { batch in
                    for index in 0..<50 {
                        batch.put(namespace: "jobs", key: "k\(index)", value: "new", if: .absent)
                        batch.put(namespace: "job_history", key: "k\(index)/1", value: "event")
                    }
                }
            }
            try Support.expectConflict(error, namespace: "jobs", key: "k30", expected: .absent, found: taken)
            try expectEqual(try await Support.listed(store, "jobs"), ["k30=taken"], "jobs after the failed batch")
            try expectEqual(try await store.list(namespace: "job_history").count, 0, "job_history after the failed batch")

            let revision = try await Support.commit(store) { batch in
                for index in 0..<50 where index != 30 {
                    batch.put(namespace: "jobs", key: "k\(index)", value: "new", if: .absent)
                    batch.put(namespace: "job_history", key: "k\(index)/1", value: "event \(index)")
                }
                batch.put(namespace: "jobs", key: "k30", value: "replaced")
            }
            try expectEqual(try await store.list(namespace: "jobs").count, 50, "jobs after the batch")
            try expectEqual(try await store.entry(namespace: "jobs", key: "k30"),
                            MLEntry(key: "k30", value: "replaced", revision: revision), "jobs/k30")
            try expectEqual(try await store.get(namespace: "job_history", key: "k7/1"), "event 7", "job_history/k7/1")
        },
        MLConformanceCase("batch.emptyBatchSucceedsAndChangesNothing") { fixture in
            let store = try await fixture.makeStore()
            try await store.commit(MLBatch())
            try await store.put(namespace: "jobs", key: "k", value: "v")
            let before = try await Support.snapshot(store, ["jobs"])
            try await store.commit(MLBatch())
            try expectEqual(try await Support.snapshot(store, ["jobs"]), before, "entries after an empty batch")
            let last = try await store.entry(namespace: "jobs", key: "k")!.revision
            try await store.put(namespace: "jobs", key: "k", value: "w")
            let next = try await store.entry(namespace: "jobs", key: "k")!.revision
            try expect(next > last, "revision after an empty batch: expected more than \(last), found \(next)")
        },
        MLConformanceCase("batch.lookalikeKeysInOneBatchStayDistinct") { fixture in
            // Same namespace, same length, same first and last bytes: alike to a quick
            // summary, yet different keys, which a later condition must tell apart.
            let store = try await fixture.makeStore()
            try await Support.commit(store) { batch in
                batch.put(namespace: "jobs", key: "a1z", value: "one", if: .absent)
                batch.put(namespace: "jobs", key: "a2z", value: "two", if: .absent)
                batch.delete(namespace: "jobs", key: "a3z")
                batch.require(namespace: "jobs", key: "a1z", .present)
                batch.require(namespace: "jobs", key: "a3z", .absent)
                batch.put(namespace: "tags", key: "a1z", value: "other namespace", if: .absent)
            }
            try expectEqual(try await Support.listed(store, "jobs"), ["a1z=one", "a2z=two"], "list(jobs)")
            let error = try await expectThrows(code: "conflict", "require a2z absent after putting a lookalike") {
                try await Support.commit(store) { batch in
                    batch.delete(namespace: "jobs", key: "a1z")
                    batch.require(namespace: "jobs", key: "a2z", .absent)
                }
            }
            try expectEqual(try Support.conflict(error).key, "a2z", "conflict key")
            try expectEqual(try await store.get(namespace: "jobs", key: "a1z"), "one", "jobs/a1z after the failed batch")
        },
    ]
}
