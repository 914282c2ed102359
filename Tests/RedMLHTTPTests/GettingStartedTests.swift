import Foundation
import HummingbirdTesting
import RedML
import Testing

// BEGIN listing: this mirrors the code listing of Sources/RedML/RedML.docc/GettingStarted.md
// line for line (only `@main` is left out, as a test bundle has its own entry point);
// `theArticleShowsThisCode` fails when the two drift apart.
import Hummingbird
import Logging
import RedMLHTTP
import RedMLRuntime
import RedMLTrainer
import ServiceLifecycle

func makePredictionServer(sqlitePath: String) throws -> (MLRuntime, some ApplicationProtocol) {
    let runtime = try MLRuntime(sqlitePath: sqlitePath)
    runtime.register(.train, MLTrainHandler(registry: runtime.registry).handler)
    let router = Router()
    MLHTTPAPI(registry: runtime.registry, queue: runtime.queue).addRoutes(to: router)
    router.get("/predict/:model") { request, context -> String in
        let model = try await MLSoftmaxModel.load(from: runtime.registry, model: context.parameters.require("model"))
        let features = try request.uri.queryParameters.requireAll("x", as: Double.self)
        guard features.count == model.features.count else {
            throw HTTPError(.badRequest, message: "give one x per feature: \(model.features.joined(separator: ", "))")
        }
        return try model.predict(features: features).label
    }
    return (runtime, Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8080))))
}
struct PredictionServer {
    static func main() async throws {
        let (runtime, app) = try makePredictionServer(sqlitePath: "redml.sqlite")
        let logger = Logger(label: "prediction-server")
        try await ServiceGroup(services: [runtime, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}
// END listing

/// The getting-started article's app: its listing compiles, serves RedML's
/// API beside its own route, and trains a model its route then predicts with.
@Suite("Getting started")
struct GettingStartedTests {
    @Test func theAppTrainsAModelAndPredictsWithIt() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("redml-getting-started-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (runtime, app) = try makePredictionServer(sqlitePath: directory.appendingPathComponent("redml.sqlite").path)

        try await whileRunning(runtime) {
            try await app.test(.router) { base in
                let client = Client(base: base, token: nil)
                #expect(try await client.get("/healthz").json == ["status": "ok"])
                let empty = try await client.get("/v1/models")
                #expect(empty.status == .ok)
                #expect(empty.json.objects("models").isEmpty)

                // Before any training the app's route answers with RedML's JSON 404.
                let untrained = try await client.get("/predict/iris?x=5.1&x=3.5&x=1.4&x=0.2")
                #expect(untrained.status == .notFound)
                #expect(untrained.errorCode == "unknown_model")

                let submitted = try await client.send(.post, "/v1/jobs", json: [
                    "kind": "train", "target": "iris", "spec": ["data": "builtin:iris", "epochs": 60],
                ])
                #expect(submitted.status == .created)
                let id = try #require(submitted.json.string("id"))
                let job = try await finishedJob(id, client)
                #expect(job.string("status") == "completed", "\(job)")

                let models = try await client.get("/v1/models").json.objects("models")
                #expect(models.map { $0.string("name") } == ["iris"])
                #expect(models.first?.int("active_version") == 1)

                let setosa = try await client.get("/predict/iris?x=5.1&x=3.5&x=1.4&x=0.2")
                #expect(setosa.status == .ok)
                #expect(setosa.text == "setosa")
                let short = try await client.get("/predict/iris?x=5.1")
                #expect(short.status == .badRequest)
                #expect(short.errorMessage.contains("petal_width_cm"), "\(short.text)")
            }
        }
    }

    @Test func theArticleShowsThisCode() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let article = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/RedML/RedML.docc/GettingStarted.md")
        let blocks = try String(contentsOf: article, encoding: .utf8).components(separatedBy: "```")
        let listing = try #require(blocks.first { $0.hasPrefix("swift\n") && $0.contains("func makePredictionServer") })
        let articleLines = listing.dropFirst("swift\n".count).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast()  // the empty remainder after the last newline
            .map { $0.replacingOccurrences(of: "@main struct", with: "struct") }

        let source = try String(contentsOf: testFile, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(source.firstIndex { $0.hasPrefix("// BEGIN listing") })
        let end = try #require(source.firstIndex { $0 == "// END listing" })
        let mirrored = source[begin..<end].drop { $0.hasPrefix("//") }.map(String.init)
        #expect(articleLines == mirrored)
        #expect(articleLines.count < 30, "the article promises under 30 lines; the listing has \(articleLines.count)")
    }

    /// Runs `runtime` (its workers) in a ServiceGroup while `body` runs, then shuts it down gracefully.
    private func whileRunning(_ runtime: MLRuntime, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [runtime], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Polls `GET /v1/jobs/{id}` until the job is finished, for at most a generous two minutes.
    private func finishedJob(_ id: String, _ client: Client) async throws -> MLJSONObject {
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        while true {
            let job = try await client.get("/v1/jobs/\(id)").json
            if let status = job.string("status"), ["completed", "failed", "cancelled"].contains(status) { return job }
            guard ContinuousClock.now < deadline else {
                Issue.record("job \(id) did not finish within two minutes: \(job)")
                return job
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
