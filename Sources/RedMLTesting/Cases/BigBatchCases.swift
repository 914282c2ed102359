import RedMLPersistence

/// Batches of many operations, which a backend may apply set by set rather
/// than one operation at a time (PostgreSQL does, past eight operations):
/// the outcome must be the same as applying them in order.
enum BigBatchCases {
    static let all: [MLConformanceCase] = [
        MLConformanceCase("bigBatch.appliesEveryKindOfOperation") { fixture in
            let store = try await fixture.makeStore()
            var revisions: [String: MLRevision] = [:]
            for key in ["a1", "a2", "a3", "b1", "b2", "b3"] {
                revisions[key] = try await Support.commit(store) { $0.put(namespace: "t", key: key, value: "old \(key)") }
            }
            let revision = try await Support.commit(store) { batch in
                batch.require(namespace: "t", key: "a1", .revision(revisions["a1"]!))
                batch.put(namespace: "t", key: "a1", value: "new a1", if: .revision(revisions["a1"]!))
                batch.put(namespace: "t", key: "a2", value: "new a2", if: .present)
                batch.put(namespace: "t", key: "a3", value: "new a3")
                for index in 1...4 { batch.put(namespace: "t", key: "n\(index)", value: "n\(index)", if: .absent) }
                batch.delete(namespace: "t", key: "b1", if: .revision(revisions["b1"]!))
                batch.delete(namespace: "t", key: "b2", if: .present)
                batch.delete(namespace: "t", key: "b3")
                batch.delete(namespace: "t", key: "never-there")
                batch.require(namespace: "t", key: "also-never-there", .absent)
                batch.put(namespace: "u", key: "other namespace", value: "u")
            }
            let entries = try await Support.snapshot(store, ["t", "u"])
            try expectEqual(
                entries["t"]!.map { "\($0.key)=\($0.value)" },
                ["a1=new a1", "a2=new a2", "a3=new a3", "n1=n1", "n2=n2", "n3=n3", "n4=n4"], "t after the batch")
            try expectEqual(entries["u"]!.map(\.value), ["u"], "u after the batch")
            try expectEqual(Set((entries["t"]! + entries["u"]!).map(\.revision)), [revision], "revisions of the written entries")
        },
        MLConformanceCase("bigBatch.reportsItsFirstFailureAndChangesNothing") { fixture in
            let store = try await fixture.makeStore()
            let taken = try await Support.commit(store) { $0.put(namespace: "t", key: "taken", value: "x") }
            let moved = try await Support.commit(store) { $0.put(namespace: "t", key: "moved", value: "x") }
            let before = try await Support.snapshot(store, ["t"])
            // The put-if-absent on "taken" fails first in order, then the check of "moved".
            for absentFirst in [true, false] {
                var batch = MLBatch()
                for index in 0..<6 { batch.put(namespace: "t", key: "p\(index)", value: "p") }
                let stale = MLRevision(rawValue: moved.rawValue + 1_000_000)
                if absentFirst {
                    batch.put(namespace: "t", key: "taken", value: "y", if: .absent)
                    batch.put(namespace: "t", key: "moved", value: "y", if: .revision(stale))
                } else {
                    batch.put(namespace: "t", key: "moved", value: "y", if: .revision(stale))
                    batch.put(namespace: "t", key: "taken", value: "y", if: .absent)
                }
                for index in 0..<4 { batch.delete(namespace: "t", key: "d\(index)") }
                let error = try await expectThrows(code: "conflict", "a batch with two failing conditions") {
                    try await store.commit(batch)
                }
                if absentFirst {
                    try Support.expectConflict(error, namespace: "t", key: "taken", expected: .absent, found: taken)
                } else {
                    try Support.expectConflict(error, namespace: "t", key: "moved", expected: .revision(stale), found: moved)
                }
                try expectEqual(try await Support.snapshot(store, ["t"]), before, "t after the failed batch")
            }
        },
        MLConformanceCase("bigBatch.writingAKeyTwiceAppliesInOrder") { fixture in
            // Short and long batches: a backend may track a batch's own writes differently by size.
            for fillers in [6, 40] {
                let store = try await fixture.makeStore()
                try await store.put(namespace: "t", key: "w", value: "old")
                try await Support.commit(store) { batch in
                    for index in 0..<fillers { batch.put(namespace: "t", key: "filler\(index)", value: "f") }
                    batch.put(namespace: "t", key: "x", value: "1")
                    batch.put(namespace: "t", key: "x", value: "2")
                    batch.put(namespace: "t", key: "y", value: "1")
                    batch.delete(namespace: "t", key: "y")
                    batch.put(namespace: "t", key: "z", value: "1")
                    batch.require(namespace: "t", key: "z", .present)  // sees the put before it
                    batch.delete(namespace: "t", key: "w")
                    batch.put(namespace: "t", key: "w", value: "new", if: .absent)  // sees the delete before it
                }
                let values = try await Support.snapshot(store, ["t"])["t"]!.filter { !$0.key.hasPrefix("filler") }
                try expectEqual(values.map { "\($0.key)=\($0.value)" }, ["w=new", "x=2", "z=1"],
                                "t after the batch with \(fillers) fillers")
            }
        },
    ]
}
