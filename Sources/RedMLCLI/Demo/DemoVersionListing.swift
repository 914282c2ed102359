import RedML

/// A model's versions, read by walking pages of `model_versions` under the
/// key prefix `<model>@v`.
struct DemoVersionListing {
    /// The readable versions, in version order.
    var versions: [DemoModelVersionRecord]
    /// One message per version record that could not be decoded.
    var unreadable: [String]

    /// Reads every version of `model` from `store`.
    static func load(model: String, from store: any MLStore) async throws -> DemoVersionListing {
        var versions: [DemoModelVersionRecord] = []
        var unreadable: [String] = []
        try await walk(model: model, in: store) { entry in
            do {
                versions.append(
                    try MLJSON.decode(
                        DemoModelVersionRecord.self, from: entry.value, namespace: MLNamespace.modelVersions,
                        key: entry.key))
            } catch {
                unreadable.append("\(error)")
            }
        }
        versions.sort { $0.version < $1.version }
        return DemoVersionListing(versions: versions, unreadable: unreadable)
    }

    /// The highest version number stored for `model`, from the keys alone; 0 if none.
    static func highestVersion(model: String, in store: any MLStore) async throws -> UInt32 {
        var highest: UInt32 = 0
        try await walk(model: model, in: store) { entry in
            if let parsed = MLKey.parseModelVersion(entry.key) { highest = max(highest, parsed.version) }
        }
        return highest
    }

    /// Calls `body` with every entry whose key is a version key of `model`.
    ///
    /// The prefix also matches other models whose names start with
    /// `<model>@v` (say `demo@vx`), so each key is parsed and checked.
    private static func walk(
        model: String, in store: any MLStore, _ body: (MLEntry) throws -> Void
    ) async throws {
        let prefix = MLKey.modelVersion(model, 0).dropLast()  // "<model>@v"
        var cursor: String?
        repeat {
            let page = try await store.page(
                namespace: MLNamespace.modelVersions, MLPageRequest(after: cursor, prefix: String(prefix), limit: 500))
            for entry in page.entries where MLKey.parseModelVersion(entry.key)?.model == model {
                try body(entry)
            }
            cursor = page.nextCursor
        } while cursor != nil
    }
}
