import Foundation
import RedML
import Testing

@Suite("redml demo")
struct DemoTests {
    @Test("running the demo twice makes versions 1 and 2 in the SQLite file")
    func demoTwiceMakesTwoVersions() async throws {
        let scratch = try ScratchDirectory()
        let first = try await scratch.redml("demo")
        expectSuccess(first)
        #expect(first.stdout.contains("allocated demo version 1"), "\(first)")
        let second = try await scratch.redml("demo")
        expectSuccess(second)
        #expect(second.stdout.contains("allocated demo version 2"), "\(second)")
        #expect(second.stdout.contains("integrity check: healthy"), "\(second)")

        let store = try SQLiteMLPersistence(path: scratch.path("redml.sqlite"))
        defer { try? store.close() }
        for version: UInt32 in [1, 2] {
            let key = MLKey.modelVersion("demo", version)
            let value = try #require(try await store.get(namespace: MLNamespace.modelVersions, key: key))
            let record = try #require(try JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String: Any])
            #expect(record["model"] as? String == "demo")
            #expect((record["version"] as? NSNumber)?.intValue == Int(version))
            #expect(record["archived"] as? Bool == false)
            #expect(((record["metrics"] as? [String: Any])?["run"] as? NSNumber)?.intValue == Int(version))
            let sha = try #require(record["weights_sha256"] as? String)
            let size = try #require((record["weights_size"] as? NSNumber)?.int64Value)
            #expect(size >= 100_000)
            #expect(record["created_at_ms"] is NSNumber)
            let weights = try await store.readBlobData(sha256: sha)
            #expect(Int64(weights.count) == size)
        }
        let model = try #require(try await store.get(namespace: MLNamespace.models, key: MLKey.model("demo")))
        let modelRecord = try #require(try JSONSerialization.jsonObject(with: Data(model.utf8)) as? [String: Any])
        #expect((modelRecord["latest_version"] as? NSNumber)?.intValue == 2)
        let jobs = try await store.list(namespace: MLNamespace.jobs)
        #expect(jobs.count == 2)
        for job in jobs {
            #expect(MLKey.parseJob(job.key) != nil)
            let record = try #require(try JSONSerialization.jsonObject(with: Data(job.value.utf8)) as? [String: Any])
            #expect(record["id"] as? String == job.key)
            #expect(record["kind"] as? String == "demo")
            #expect(record["status"] as? String == "completed")
            #expect((record["progress"] as? NSNumber)?.intValue == 100)
            #expect(record["finished_at_ms"] is NSNumber)
        }
    }

    @Test("--json prints one JSON object describing the run")
    func demoJSON() async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("demo", "--json")
        expectSuccess(result)
        #expect(result.stdout.split(separator: "\n").count == 1, "\(result)")
        let object = try result.jsonObject()
        #expect(object["store"] as? String == "./redml.sqlite")
        #expect((object["version"] as? NSNumber)?.intValue == 1)
        #expect((object["schema_version"] as? NSNumber)?.intValue == SQLiteMLPersistence.schemaVersion)
        let weights = try #require(object["weights"] as? [String: Any])
        #expect(weights["verified"] as? Bool == true)
        let version = try #require(object["model_version"] as? [String: Any])
        #expect(version["weights_sha256"] as? String == weights["sha256"] as? String)
        let job = try #require(object["job"] as? [String: Any])
        #expect(job["status"] as? String == "completed")
        #expect((object["versions"] as? [Any])?.count == 1)
        let integrity = try #require(object["integrity"] as? [String: Any])
        #expect(integrity["healthy"] as? Bool == true)
    }

    @Test("demos racing on one store each get their own version, by compare-and-swap")
    func concurrentDemos() async throws {
        let scratch = try ScratchDirectory()
        expectSuccess(try await scratch.redml("store", "migrate"))
        let directory = scratch.url
        let results = try await withThrowingTaskGroup(of: RedMLResult.self) { group in
            for _ in 0..<3 {
                group.addTask { try await RedMLExecutable.run(["demo", "--json"], in: directory) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var versions: [Int] = []
        for result in results {
            expectSuccess(result)
            versions.append(try #require((try result.jsonObject()["version"] as? NSNumber)?.intValue))
        }
        #expect(versions.sorted() == [1, 2, 3])
    }

    @Test("the demo runs on a memory: store, which keeps nothing")
    func demoOnMemory() async throws {
        let scratch = try ScratchDirectory()
        for _ in 0..<2 {
            let result = try await scratch.redml("demo", "--store", "memory:", "--json")
            expectSuccess(result)
            #expect((try result.jsonObject()["version"] as? NSNumber)?.intValue == 1)
        }
        #expect(!scratch.exists("redml.sqlite"))
    }
}
