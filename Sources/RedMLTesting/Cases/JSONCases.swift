import RedMLPersistence

/// Corrupt stored values are reported with the record that holds them.
enum JSONCases {
    /// A record shape for the test.
    struct Job: Codable, Equatable {
        var status: String
    }

    static let all: [MLConformanceCase] = [
        MLConformanceCase("json.decodeNamesTheCorruptRecord") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "bad", value: "not json at all")
            let value = try expectNotNil(try await store.get(namespace: "jobs", key: "bad"), "jobs/bad")
            let error = try await expectThrows(code: "corruption", "decoding a non-JSON value") {
                _ = try MLJSON.decode(Job.self, from: value, namespace: "jobs", key: "bad")
            }
            let text = error.description
            try expect(text.hasPrefix("ml persistence value corrupted: "), "corruption description, found \"\(text)\"")
            try expect(
                text.contains("jobs") && text.contains("bad"), "description should name jobs/bad, found \"\(text)\"")
        },
        MLConformanceCase("json.decodeAllSeparatesCorruptRecords") { fixture in
            let store = try await fixture.makeStore()
            try await store.put(namespace: "jobs", key: "good1", value: try MLJSON.encode(Job(status: "queued")))
            try await store.put(namespace: "jobs", key: "bad1", value: "{")
            try await store.put(namespace: "jobs", key: "good2", value: #"{"status":"done","extra":1}"#)
            try await store.put(namespace: "jobs", key: "bad2", value: #"{"state":"done"}"#)
            let decoded = MLJSON.decodeAll(
                Job.self, entries: try await store.list(namespace: "jobs"), namespace: "jobs")
            let good = decoded.values.sorted { $0.key < $1.key }
            try expectEqual(good.map(\.key), ["good1", "good2"], "keys of the records that decoded")
            try expectEqual(good.map(\.value), [Job(status: "queued"), Job(status: "done")], "decoded records")
            try expectEqual(decoded.corrupt.count, 2, "number of corrupt records")
            for key in ["bad1", "bad2"] {
                try expect(
                    decoded.corrupt.contains { $0.code == "corruption" && $0.description.contains("jobs/\(key)") },
                    "corrupt records should include jobs/\(key), found \(decoded.corrupt)")
            }
        },
    ]
}
