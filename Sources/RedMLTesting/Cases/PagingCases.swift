import RedMLPersistence

/// Paging walks one namespace in UTF-8 byte order, with prefix, cursor and limit.
enum PagingCases {
    /// Keys whose byte order differs from naive orders: prefixes of each other,
    /// case, a decomposed accent (sorts as "e" bytewise), U+FFFD before an emoji
    /// (UTF-16 order would swap them), and a private-use character.
    static let keys: [String] = [
        "a", "a/1", "a/10", "a/2", "a0", "ab", "b", "B", "Z", "z", "~", "0", "00",
        "caf\u{E9}", "e\u{301}x", "ex", "f", "日本", "日", "😀", "\u{FFFD}", "\u{E000}", "a\u{7F}",
        "job/1", "job/2", "job2", "jo", "jobs/x",
    ]

    static func fill(_ store: any MLStore, _ namespace: String = "jobs") async throws {
        try await Support.commit(store) { batch in
            for key in keys { batch.put(namespace: namespace, key: key, value: "\(namespace)|\(key)") }
        }
    }

    static func spelled(_ entries: [MLEntry]) -> [String] { spelled(entries.map(\.key)) }

    /// Keys spelled scalar by scalar, so that composed and decomposed forms differ when compared.
    static func spelled(_ keys: [String]) -> [String] {
        keys.map { $0.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() }
    }

    static func expected(prefix: String? = nil, after: String? = nil, descending: Bool = false) -> [String] {
        var selected = keys.filter { key in
            if let prefix, !key.utf8.starts(with: prefix.utf8) { return false }
            if let after {
                return descending
                    ? key.utf8.lexicographicallyPrecedes(after.utf8) : after.utf8.lexicographicallyPrecedes(key.utf8)
            }
            return true
        }
        selected = Support.byteSorted(selected)
        return spelled(descending ? selected.reversed() : selected)
    }

    static let all: [MLConformanceCase] = [
        MLConformanceCase("paging.ascendingWalkInByteOrder") { fixture in
            let store = try await fixture.makeStore()
            try await fill(store)
            for limit in [1, 2, 3, 7, keys.count, keys.count + 1] {
                let entries = try await Support.walk(store, namespace: "jobs", MLPageRequest(limit: limit))
                try expectEqual(spelled(entries), expected(), "keys of an ascending walk with limit \(limit)")
                for entry in entries {
                    try expectEqual(entry.value, "jobs|\(entry.key)", "value of paged entry \(entry.key)")
                }
            }
        },
        MLConformanceCase("paging.descendingWalkInByteOrder") { fixture in
            let store = try await fixture.makeStore()
            try await fill(store)
            for limit in [1, 4, 1000] {
                let entries = try await Support.walk(
                    store, namespace: "jobs", MLPageRequest(limit: limit, order: .descending))
                try expectEqual(
                    spelled(entries), expected(descending: true), "keys of a descending walk with limit \(limit)")
            }
        },
        MLConformanceCase("paging.prefixFilter") { fixture in
            let store = try await fixture.makeStore()
            try await fill(store)
            for prefix in ["job/", "job", "a/", "a", "日", "e", "caf\u{E9}", "", "nomatch", "a/3", "~~"] {
                for descending in [false, true] {
                    for limit in [1, 2, 100] {
                        let request = MLPageRequest(
                            prefix: prefix, limit: limit, order: descending ? .descending : .ascending)
                        let entries = try await Support.walk(store, namespace: "jobs", request)
                        try expectEqual(
                            spelled(entries), expected(prefix: prefix, descending: descending),
                            "keys with prefix \"\(prefix)\", \(descending ? "descending" : "ascending"), limit \(limit)"
                        )
                    }
                }
            }
            let none = try await store.page(namespace: "jobs", MLPageRequest(prefix: "nomatch"))
            try expectEqual(none.entries.count, 0, "entries with a prefix that matches nothing")
            try expectEqual(none.nextCursor, nil, "next cursor with a prefix that matches nothing")
        },
        MLConformanceCase("paging.cursorAnywhere") { fixture in
            // `after` need not be a stored key (it may have been deleted since), and
            // combines with a prefix.
            let store = try await fixture.makeStore()
            try await fill(store)
            for after in ["a/15", "a", "", "\u{10FFFF}", "job/1", "e", "jo"] {
                for descending in [false, true] {
                    for prefix in [nil, "a", "job"] as [String?] {
                        let request = MLPageRequest(
                            after: after, prefix: prefix, limit: 3, order: descending ? .descending : .ascending)
                        let entries = try await Support.walk(store, namespace: "jobs", request)
                        try expectEqual(
                            spelled(entries), expected(prefix: prefix, after: after, descending: descending),
                            "keys after \"\(after)\" with prefix \(prefix.map { "\"\($0)\"" } ?? "none"), "
                                + (descending ? "descending" : "ascending"))
                    }
                }
            }
        },
        MLConformanceCase("paging.limits") { fixture in
            let store = try await fixture.makeStore()
            try await fill(store)
            let first = try await store.page(namespace: "jobs", MLPageRequest(limit: 1))
            try expectEqual(spelled(first.entries), Array(expected().prefix(1)), "keys of the first page with limit 1")
            try expect(
                first.nextCursor != nil,
                "first page with limit 1 of \(keys.count) keys: expected a next cursor, found nil")
            let whole = try await store.page(namespace: "jobs", MLPageRequest(limit: 10_000))
            try expectEqual(
                spelled(whole.entries), expected(), "keys of one page with a limit larger than the namespace")
            try expectEqual(whole.nextCursor, nil, "next cursor of a page that holds the whole namespace")
            for limit in [0, -1, Int.min] {
                let error = try await expectThrows(code: "invalid_argument", "page with limit \(limit)") {
                    _ = try await store.page(namespace: "jobs", MLPageRequest(limit: limit))
                }
                try expect(
                    error.description.contains("\(limit)"),
                    "invalid limit error should name the limit \(limit), found \"\(error)\"")
            }
            _ = try await expectThrows(code: "invalid_argument", "page of an empty namespace with limit 0") {
                _ = try await store.page(namespace: "empty", MLPageRequest(limit: 0))
            }
        },
        MLConformanceCase("paging.otherNamespacesNeverLeak") { fixture in
            let store = try await fixture.makeStore()
            let namespaces = ["jobs", "jobs2", "job", "jobs/", "Jobs"]
            for namespace in namespaces { try await fill(store, namespace) }
            try await store.delete(namespace: "jobs2", key: "a")
            for namespace in namespaces {
                for descending in [false, true] {
                    for prefix in [nil, "a", "job"] as [String?] {
                        let entries = try await Support.walk(
                            store, namespace: namespace,
                            MLPageRequest(prefix: prefix, limit: 4, order: descending ? .descending : .ascending))
                        var wanted = expected(prefix: prefix, descending: descending)
                        if namespace == "jobs2" { wanted.removeAll { $0 == "a" } }
                        try expectEqual(
                            spelled(entries), wanted, "keys paged from \(namespace) with prefix \(prefix ?? "none")")
                        for entry in entries {
                            try expectEqual(
                                entry.value, "\(namespace)|\(entry.key)", "value paged from \(namespace)/\(entry.key)")
                        }
                    }
                }
            }
            let empty = try await store.page(namespace: "jo", MLPageRequest())
            try expectEqual(empty.entries.count, 0, "entries of namespace jo, never written")
            try expectEqual(empty.nextCursor, nil, "next cursor of an empty namespace")
        },
        MLConformanceCase("paging.entriesCarryRevisions") { fixture in
            let store = try await fixture.makeStore()
            for index in 0..<10 {
                try await store.put(namespace: "jobs", key: "k\(index)", value: "v\(index)")
            }
            try await store.put(namespace: "jobs", key: "k3", value: "v3b")
            let entries = try await Support.walk(store, namespace: "jobs", MLPageRequest(limit: 3))
            for entry in entries {
                try expectEqual(
                    try await store.entry(namespace: "jobs", key: entry.key), entry,
                    "paged entry versus entry(\(entry.key))")
            }
        },
        MLConformanceCase("paging.followsWritesBetweenPages") { fixture in
            let store = try await fixture.makeStore()
            for index in stride(from: 0, to: 40, by: 2) {
                try await store.put(namespace: "jobs", key: "k\(index < 10 ? "0" : "")\(index)", value: "v")
            }
            // k00, k02, ..., k38. Read the first page: k00...k08.
            let first = try await store.page(namespace: "jobs", MLPageRequest(limit: 5))
            try expectEqual(first.entries.map(\.key), ["k00", "k02", "k04", "k06", "k08"], "first page")
            let cursor = try expectNotNil(first.nextCursor, "cursor after the first page")
            // Behind the cursor: these must not show up in the rest of the walk.
            try await store.put(namespace: "jobs", key: "k01", value: "behind")
            try await store.delete(namespace: "jobs", key: "k02")
            // Ahead of it: new keys appear, deleted keys disappear, rewritten keys appear once.
            try await store.put(namespace: "jobs", key: "k09", value: "new")
            try await store.put(namespace: "jobs", key: "k39", value: "new")
            try await store.delete(namespace: "jobs", key: "k10")
            try await store.delete(namespace: "jobs", key: "k20")
            try await store.put(namespace: "jobs", key: "k20", value: "rewritten")
            try await store.delete(namespace: "jobs", key: "k30")
            try await store.put(namespace: "jobs", key: "k30", value: "rewritten")
            try await store.delete(namespace: "jobs", key: "k30")
            try await store.put(namespace: "jobs", key: "k30", value: "rewritten twice")
            let rest = try await Support.walk(store, namespace: "jobs", MLPageRequest(after: cursor, limit: 4))
            let wanted = ["k09"] + stride(from: 12, to: 40, by: 2).map { "k\($0)" } + ["k39"]
            try expectEqual(rest.map(\.key), wanted, "keys of the rest of the walk after writes between pages")
            let values = Dictionary(uniqueKeysWithValues: rest.map { ($0.key, $0.value) })
            try expectEqual(values["k20"], "rewritten", "value of k20")
            try expectEqual(values["k30"], "rewritten twice", "value of k30")
            try expectEqual(values["k09"], "new", "value of k09")
            // A fresh walk, after more churn, in both orders.
            for index in 0..<40 where index.isMultiple(of: 3) {
                try await store.delete(namespace: "jobs", key: "k\(index < 10 ? "0" : "")\(index)")
            }
            let all = try await store.list(namespace: "jobs").map(\.key)
            let ascending = try await Support.walk(store, namespace: "jobs", MLPageRequest(limit: 3))
            try expectEqual(ascending.map(\.key), Support.byteSorted(all), "ascending walk after churn")
            let descending = try await Support.walk(
                store, namespace: "jobs", MLPageRequest(limit: 3, order: .descending))
            try expectEqual(descending.map(\.key), Support.byteSorted(all).reversed(), "descending walk after churn")
        },
    ]
}
