import RedMLPersistence

/// Values and keys come back byte for byte.
enum ValueCases {
    /// Keys and values outside ASCII: accents (both normal forms), CJK, emoji
    /// with joiners and modifiers, right-to-left text, quotes and control characters.
    static let unicode: [(key: String, value: String)] = [
        ("caf\u{E9}", #"{"name":"café","note":"précomposé"}"#),
        ("nai\u{308}ve", "décomposé: e\u{301}"),
        ("模型/版本", #"{"名前":"スパム分類器","版本":42}"#),
        ("👩‍👩‍👧‍👦@v1", "family 👨‍👩‍👧 and flags 🇫🇷🇯🇵, skin 👍🏽"),
        ("שלום", "مرحبا بالعالم"),
        ("tab\tnew\nline", "quote \" backslash \\ slash / \r\n\u{7F}"),
        ("\u{10FFFF}", "\u{FEFF}bom and private \u{E000}"),
    ]

    static let all: [MLConformanceCase] = [
        MLConformanceCase("value.nulIsRefusedEverywhere") { fixture in
            // U+0000 ends a C string in SQLite and PostgreSQL, so no backend accepts it,
            // and a refused write changes nothing.
            let store = try await fixture.makeStore()
            try await store.put(namespace: "models", key: "k", value: "kept")
            try await expectThrows(code: "invalid_argument", "put with NUL in the key") {
                try await store.put(namespace: "models", key: "k\u{0}x", value: "v")
            }
            try await expectThrows(code: "invalid_argument", "put with NUL in the namespace") {
                try await store.put(namespace: "models\u{0}", key: "k", value: "v")
            }
            try await expectThrows(code: "invalid_argument", "put with NUL in the value") {
                try await store.put(namespace: "models", key: "k", value: "a\u{0}b")
            }
            try await expectThrows(code: "invalid_argument", "get with NUL in the key") {
                _ = try await store.get(namespace: "models", key: "k\u{0}x")
            }
            try await expectThrows(code: "invalid_argument", "delete with NUL in the key") {
                try await store.delete(namespace: "models", key: "k\u{0}")
            }
            var batch = MLBatch()
            batch.put(namespace: "models", key: "fine", value: "v")
            batch.put(namespace: "models", key: "bad\u{0}", value: "v")
            try await expectThrows(code: "invalid_argument", "a batch with NUL in a key") {
                try await store.commit(batch)
            }
            try await expectThrows(code: "invalid_argument", "a page with NUL in the prefix") {
                _ = try await store.page(namespace: "models", MLPageRequest(prefix: "k\u{0}"))
            }
            try expectEqual(try await store.list(namespace: "models").map(\.key), ["k"], "keys after refused writes")
            try expectEqual(try await store.get(namespace: "models", key: "k"), "kept", "value after refused writes")
        },
        MLConformanceCase("value.unicodeRoundTrip") { fixture in
            let store = try await fixture.makeStore()
            for (key, value) in unicode {
                try await store.put(namespace: "models", key: key, value: value)
            }
            for (key, value) in unicode {
                let found = try await store.get(namespace: "models", key: key)
                try expectEqual(found.map { Array($0.utf8) }, Array(value.utf8), "UTF-8 bytes of get(models/\(key))")
                let entry = try expectNotNil(
                    try await store.entry(namespace: "models", key: key), "entry models/\(key)")
                try expectEqual(Array(entry.value.utf8), Array(value.utf8), "UTF-8 bytes of entry(models/\(key)).value")
            }
            let listed = try await store.list(namespace: "models")
            try expectEqual(
                Support.byteSorted(listed.map(\.key)).map { Array($0.utf8) },
                Support.byteSorted(unicode.map(\.key)).map { Array($0.utf8) },
                "UTF-8 bytes of the keys that list(models) returns")
        },
        MLConformanceCase("value.canonicallyEquivalentKeysAreDistinct") { fixture in
            // Keys are compared as bytes: "é" precomposed and "e" + combining acute
            // are equal as Swift strings but are two different keys.
            let store = try await fixture.makeStore()
            let composed = "caf\u{E9}"
            let decomposed = "cafe\u{301}"
            try await store.put(namespace: "models", key: composed, value: "composed")
            try await store.put(namespace: "models", key: decomposed, value: "decomposed")
            try expectEqual(try await store.get(namespace: "models", key: composed), "composed", "get(NFC key)")
            try expectEqual(try await store.get(namespace: "models", key: decomposed), "decomposed", "get(NFD key)")
            let keys = try await store.list(namespace: "models").map { Array($0.key.utf8) }
            try expectEqual(
                keys.sorted { $0.lexicographicallyPrecedes($1) },
                [Array(composed.utf8), Array(decomposed.utf8)].sorted { $0.lexicographicallyPrecedes($1) },
                "UTF-8 bytes of the keys that list(models) returns")
            try await store.delete(namespace: "models", key: decomposed)
            try expectEqual(
                try await store.get(namespace: "models", key: composed), "composed",
                "get(NFC key) after deleting the NFD key")
            let page = try await store.page(namespace: "models", MLPageRequest(prefix: "cafe"))
            try expectEqual(page.entries.count, 0, "entries with byte prefix \"cafe\" after deleting the NFD key")
            // In a batch, a condition on one form does not see the other.
            try await Support.commit(store) { batch in
                batch.put(namespace: "jobs", key: composed, value: "composed", if: .absent)
                batch.put(namespace: "jobs", key: decomposed, value: "decomposed", if: .absent)
            }
            try expectEqual(
                try await store.list(namespace: "jobs").count, 2, "entries after put-if-absent of both forms")
            // Namespaces are compared as bytes too.
            try await store.put(namespace: decomposed, key: "k", value: "in the NFD namespace")
            try expectEqual(
                try await store.get(namespace: composed, key: "k"), nil,
                "models/k in the NFC namespace, written only in NFD")
            try expectEqual(try await store.list(namespace: composed).count, 0, "entries of the NFC namespace")
        },
        MLConformanceCase("value.emptyString") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "empty", value: "")
            try expectEqual(try await store.get(namespace: "jobs", key: "empty"), "", "get of an empty value")
            try expect(
                try await store.entry(namespace: "jobs", key: "empty") != nil,
                "entry of an empty value: expected an entry, found nil")
            try expectEqual(try await Support.listed(store, "jobs"), ["empty="], "list of an empty value")
            var batch = MLBatch()
            batch.require(namespace: "jobs", key: "empty", .present)
            try await store.commit(batch)
        },
        MLConformanceCase("value.largeValueRoundTrip") { fixture in
            let store = try await fixture.makeStore()
            var value = ""
            value.reserveCapacity(1 << 20)
            var index = 0
            while value.utf8.count < 1_000_000 {
                value += "\(index):ü€𝄞;"
                index += 1
            }
            try await store.put(namespace: "models", key: "big", value: value)
            let found = try expectNotNil(try await store.get(namespace: "models", key: "big"), "get(models/big)")
            try expectEqual(found.utf8.count, value.utf8.count, "UTF-8 length of a ~1 MB value")
            try expect(found.utf8.elementsEqual(value.utf8), "the ~1 MB value came back with different bytes")
            let page = try await store.page(namespace: "models", MLPageRequest())
            try expect(
                page.entries.first?.value.utf8.elementsEqual(value.utf8) == true,
                "page(models) did not return the ~1 MB value byte for byte")
        },
    ]
}
