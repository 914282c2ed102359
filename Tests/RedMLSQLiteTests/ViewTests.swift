import Foundation
import RedML
import Testing

/// The operator views (ml_jobs, ml_model_versions, ml_models), read with the
/// real sqlite3 shell while the store is open.
@Suite("Operator views")
struct ViewTests {
    static let createdAt = "2023-11-14 22:13:20"  // 1_700_000_000_000 ms

    @Test("ml_jobs, ml_model_versions and ml_models show the JSON fields, and flag non-JSON as corrupt")
    func views() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("views.sqlite")
        let store = try SQLiteMLPersistence(path: path)
        let running = MLKey.job(1)
        let queued = MLKey.job(2)
        let broken = MLKey.job(3)
        try await store.put(
            namespace: MLNamespace.jobs, key: running,
            value: #"{"id":"\#(running)","kind":"train","target":"iris","status":"running","progress":40,"created_at_ms":1700000000000}"#
        )
        try await store.put(
            namespace: MLNamespace.jobs, key: queued,
            value: #"{"id":"\#(queued)","kind":"evaluate","target":"iris@v3","status":"queued","created_at_ms":1700000001000}"#
        )
        try await store.put(namespace: MLNamespace.jobs, key: broken, value: "this is not JSON {")
        let sha = String(repeating: "ab", count: 32)
        let versionKey = MLKey.modelVersion("iris", 3)
        try await store.put(
            namespace: MLNamespace.modelVersions, key: versionKey,
            value: #"{"model":"iris","version":3,"archived":false,"weights_sha256":"\#(sha)","weights_size":1234,"created_at_ms":1700000000000}"#
        )
        try await store.put(
            namespace: MLNamespace.models, key: MLKey.model("iris"),
            value: #"{"name":"iris","active_version":3,"latest_version":3,"description":"Iris classifier","created_at_ms":1700000000000}"#
        )
        // Entries of other namespaces never appear in the views.
        try await store.put(namespace: "other", key: running, value: #"{"kind":"decoy"}"#)

        let jobs = try await SQLiteShell.rows(path, "SELECT id, kind, status, progress, corrupt FROM ml_jobs ORDER BY id")
        #expect(
            jobs == [
                "\(running)|train|running|40|0",
                "\(queued)|evaluate|queued||0",
                "\(broken)||||1",
            ])
        let jobTimes = try await SQLiteShell.rows(path, "SELECT target, created_at FROM ml_jobs ORDER BY id")
        #expect(jobTimes == ["iris|\(Self.createdAt)", "iris@v3|2023-11-14 22:13:21", "|"])

        let runningRevision = try #require(try await store.entry(namespace: MLNamespace.jobs, key: running)).revision
        let viewRevision = try await SQLiteShell.run(path, "SELECT revision FROM ml_jobs WHERE id = '\(running)'")
        #expect(viewRevision == "\(runningRevision.rawValue)")

        let versions = try await SQLiteShell.rows(
            path,
            "SELECT model, version, archived, weights_sha256, weights_size, created_at, key, corrupt FROM ml_model_versions"
        )
        #expect(versions == ["iris|3|0|\(sha)|1234|\(Self.createdAt)|\(versionKey)|0"])

        let models = try await SQLiteShell.rows(
            path, "SELECT name, active_version, latest_version, description, created_at, corrupt FROM ml_models")
        #expect(models == ["iris|3|3|Iris classifier|\(Self.createdAt)|0"])

        // An update shows through the view at once.
        try await store.put(
            namespace: MLNamespace.jobs, key: running,
            value: #"{"id":"\#(running)","kind":"train","target":"iris","status":"succeeded","progress":100,"created_at_ms":1700000000000}"#
        )
        #expect(
            try await SQLiteShell.run(path, "SELECT status, progress FROM ml_jobs WHERE id = '\(running)'")
                == "succeeded|100")

        // The integrity check flags the same non-JSON job the view marks corrupt.
        let report = try await store.checkIntegrity()
        #expect(report.problems.map(\.code) == ["corrupt_value"])
        #expect(report.problems.first?.message.contains("jobs/\(broken)") == true, "\(report.problems)")
        try store.close()
    }
}
