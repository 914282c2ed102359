import Foundation
import RedML
import Testing

@Suite("redml demo")
struct DemoTests {
    @Test("running the demo twice trains through the queue and makes versions 1 and 2 in the SQLite file")
    func demoTwiceMakesTwoVersions() async throws {
        let scratch = try ScratchDirectory()
        let first = try await scratch.redml("demo")
        expectSuccess(first)
        #expect(first.stdout.contains("registered iris version 1 (active)"), "\(first)")
        #expect(first.stdout.contains("held-out metrics (30 rows): accuracy"), "\(first)")
        #expect(first.stdout.contains("predictions of version 1 on 5 held-out rows"), "\(first)")
        // Not a terminal: plain progress lines, no control characters.
        #expect(!first.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(first)")
        let second = try await scratch.redml("demo")
        expectSuccess(second)
        #expect(second.stdout.contains("registered iris version 2 (active)"), "\(second)")

        let store = try SQLiteMLPersistence(path: scratch.path("redml.sqlite"))
        defer { try? store.close() }
        let registry = MLModelRegistry(store: store)
        let queue = MLJobQueue(store: store)
        #expect(try await registry.model("iris").activeVersion == 2)
        for number: UInt32 in [1, 2] {
            let version = try await registry.version("iris", number)
            #expect(try #require(version.metrics["accuracy"]?.doubleValue) >= 0.9)
            #expect(version.trainingDataSHA256 != nil)
            #expect(version.createdBy == "redml-trainer")
            let jobID = try #require(version.jobID)
            let job = try await queue.requireJob(jobID)
            #expect(job.kind == .train)
            #expect(job.status == .completed)
            #expect(job.metrics?["version"]?.intValue == Int64(number))
        }
        // The second run's parent is the version that was active when it registered.
        #expect(try await registry.version("iris", 2).parentVersion == 1)
    }

    @Test("--json prints one JSON object describing the run", arguments: ["iris", "breast_cancer"])
    func demoJSON(dataset: String) async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("demo", "--dataset", dataset, "--json")
        expectSuccess(result)
        #expect(result.stdout.split(separator: "\n").count == 1, "\(result)")
        let object = try result.jsonObject()
        #expect(object["model"] as? String == dataset)
        #expect((object["version"] as? NSNumber)?.intValue == 1)
        let metrics = try #require(object["metrics"] as? [String: Any])
        #expect(try #require((metrics["accuracy"] as? NSNumber)?.doubleValue) >= 0.9)
        #expect((object["predictions"] as? [Any])?.count == 5)
        #expect((object["versions"] as? [Any])?.count == 1)
    }

    @Test("an unknown data set is a one-line error naming the choices")
    func unknownDataset() async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("demo", "--dataset", "mnist")
        #expect(result.status != 0)
        #expect(result.stderr.contains("unknown data set 'mnist'; choose one of iris, wine, breast_cancer, digits"),
                "\(result)")
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
