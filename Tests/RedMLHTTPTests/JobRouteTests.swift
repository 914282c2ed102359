import Foundation
import RedML
import RedMLHTTP
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Submitting, listing, reading, cancelling and watching jobs.
@Suite("Job routes")
struct JobRouteTests {
    @Test(arguments: Backends.allFixtures())
    func submitReadListAndCancel(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        try await h.run { client in
            let submitted = try await client.send(.post, "/v1/jobs", json: [
                "kind": "train", "target": "spam", "spec": ["epochs": 3], "priority": 5, "queue": "gpu",
                "max_attempts": 2, "run_at": "2031-01-02T03:04:05Z", "unique_key": "spam-train", "timeout_seconds": 90,
            ])
            #expect(submitted.status == .created)
            let job = submitted.json
            let id = try #require(job.string("id"))
            #expect(id.utf8.count == 32)
            #expect(job.string("status") == "queued")
            #expect(job.int("priority") == 5)
            #expect(job.int("max_attempts") == 2)
            #expect(job.int("timeout_ms") == 90_000)
            #expect(job.int("run_at_ms") == 1_925_089_445_000)
            #expect(job["spec"] == ["epochs": 3])

            // The same unique key returns the live job.
            let duplicate = try await client.send(.post, "/v1/jobs", json: ["kind": "train", "target": "spam", "unique_key": "spam-train"])
            #expect(duplicate.json.string("id") == id)
            #expect(duplicate.status == .ok, "a duplicate is not Created")

            let other = try await client.send(.post, "/v1/jobs", json: ["kind": "backfill", "target": "emb", "run_at": 0])
            let otherID = try #require(other.json.string("id"))

            #expect(try await client.get("/v1/jobs/\(id)").json.string("target") == "spam")
            let all = try await client.get("/v1/jobs")
            #expect(all.json.objects("jobs").compactMap { $0.string("id") } == [otherID, id])
            let oldest = try await client.get("/v1/jobs?order=oldest&limit=1")
            #expect(oldest.json.objects("jobs").compactMap { $0.string("id") } == [id])
            let next = try await client.get("/v1/jobs?order=oldest&limit=1&cursor=\(id)")
            #expect(next.json.objects("jobs").compactMap { $0.string("id") } == [otherID])
            #expect(try await client.get("/v1/jobs?kind=backfill").json.objects("jobs").count == 1)
            #expect(try await client.get("/v1/jobs?queue=gpu").json.objects("jobs").count == 1)
            #expect(try await client.get("/v1/jobs?status=cancelled").json.objects("jobs").isEmpty)

            let cancelled = try await client.send(.post, "/v1/jobs/\(id)/cancel")
            #expect(cancelled.status == .ok)
            #expect(cancelled.json.string("outcome") == "cancelled")
            guard case .object(let after)? = cancelled.json["job"] else {
                Issue.record("no job in \(cancelled.text)")
                return
            }
            #expect(after.string("status") == "cancelled")
            let again = try await client.send(.post, "/v1/jobs/\(id)/cancel")
            #expect(again.json.string("outcome") == "not_cancellable")

            let history = try await client.get("/v1/jobs/\(id)/history")
            #expect(history.json.objects("events").compactMap { $0.string("reason") } == ["submitted", "cancelled"])
        }
    }

    /// As the other lists leave out a record they cannot read, so does the history (the queue logs it).
    @Test(arguments: Backends.keyValueJobFixtures())
    func aCorruptHistoryEventIsLeftOutNotFatal(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        _ = try await h.queue.cancel(id)
        try await h.store.put(namespace: MLNamespace.jobHistory, key: MLKey.job(id) + "/00000001", value: "{oops")
        try await h.run { client in
            let history = try await client.get("/v1/jobs/\(MLKey.job(id))/history")
            #expect(history.status == .ok, "\(history.text)")
            #expect(history.json.objects("events").compactMap { $0.string("reason") } == ["cancelled"])
            let skipped = history.skipped ?? []
            #expect(skipped.count == 1 && skipped[0].contains(MLKey.job(id) + "/00000001"), "\(history.text)")
        }
    }

    @Test(arguments: Backends.keyValueJobFixtures())
    func aCorruptJobRecordIsNamedByTheList(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let kept = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        let broken = try await h.queue.submit(MLJobSubmission(kind: .train, target: "ham"))
        try await h.store.put(namespace: MLNamespace.jobs, key: MLKey.job(broken), value: "{oops")
        try await h.run { client in
            let list = try await client.get("/v1/jobs")
            #expect(list.status == .ok, "\(list.text)")
            #expect(list.json.objects("jobs").compactMap { $0.string("id") } == [MLKey.job(kept)])
            let skipped = list.skipped ?? []
            #expect(skipped.count == 1 && skipped[0].contains(MLKey.job(broken)), "\(list.text)")
            // A list with nothing to skip has no such field.
            let clean = try await client.get("/v1/jobs?status=queued&kind=train&limit=1&order=asc")
            #expect(clean.skipped == nil, "\(clean.text)")
        }
    }

    /// The jobs the queue cannot run, named with what is wrong: on PostgreSQL those
    /// its job table set aside, elsewhere the job records that cannot be read.
    @Test(arguments: Backends.allFixtures())
    func theJobsSetAsideAreListedByStatus(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let kept = try await h.queue.submit(MLJobSubmission(kind: .train, target: "spam"))
        let broken = try await h.queue.submit(MLJobSubmission(kind: .train, target: "ham"))
        try await JobDamage.replaceRecord(of: broken, in: h.store, with: "{oops")
        // As the next claim that picks it would.
        if let table = h.store as? any MLJobTableStore { try await table.setJobsAside(keys: [MLKey.job(broken)]) }
        let key = MLKey.job(broken)
        try await h.run { client in
            let list = try await client.get("/v1/jobs?status=set_aside")
            #expect(list.status == .ok, "\(list.text)")
            #expect(list.json.objects("jobs").isEmpty && list.skipped == nil, "\(list.text)")
            let setAside = list.json.objects("set_aside")
            #expect(setAside.count == 1, "\(list.text)")
            #expect(setAside.first?.string("id") == key && setAside.first?.string("record") == "jobs/\(key)", "\(list.text)")
            let problem = setAside.first?.string("problem") ?? ""
            #expect(problem.contains("jobs/\(key)") && problem.contains("not valid JSON"), "\(list.text)")
            // Other listings have no such field, and still name the record under skipped.
            let all = try await client.get("/v1/jobs")
            #expect(all.json["set_aside"] == nil && all.json.objects("jobs").compactMap { $0.string("id") } == [MLKey.job(kept)])
            #expect(all.skipped == [problem], "\(all.text)")
            let refused = try await client.get("/v1/jobs?status=lost")
            #expect(refused.status == .badRequest && refused.errorMessage.contains("set_aside"), "\(refused.text)")
        }
    }

    @Test func invalidSubmissionsAreRefusedAndSubmitNothing() async throws {
        let h = try await Harness()
        try await h.run { client in
            let bodies: [MLJSONValue] = [
                ["target": "m"],
                ["kind": "train"],
                ["kind": "train", "target": "m", "priority": 5000],
                ["kind": "train", "target": "m", "priority": "high"],
                ["kind": "train", "target": "m", "max_attempts": 0],
                ["kind": "train", "target": "m", "run_at": "tomorrow"],
                ["kind": "train", "target": "m", "run_at": -5],
                ["kind": "train", "target": "m", "timeout_seconds": 0],
                ["kind": "train", "target": "m", "spec": [1, 2]],
                ["kind": "tr ain", "target": "m"],
                ["kind": "train", "target": "m", "retries": 3],
            ]
            for body in bodies {
                let reply = try await client.send(.post, "/v1/jobs", json: body)
                #expect(reply.status == .badRequest, "\(body.jsonText): \(reply.text)")
                #expect(reply.errorCode != nil)
            }
        }
        #expect(try await h.queue.jobs().jobs.isEmpty)
    }

    @Test func eventsOfACancelledJobEndWithItsTerminalStatus() async throws {
        let h = try await Harness()
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await h.queue.cancel(id)
        try await h.run { client in
            let reply = try await client.get("/v1/jobs/\(MLKey.job(id))/events")
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = Self.events(reply.text)
            #expect(events.map(\.name) == ["status"])
            #expect(events.last?.data.string("status") == "cancelled")
            #expect(try await client.get("/v1/jobs/" + String(repeating: "a", count: 32) + "/events").status == .notFound)
        }
    }

    @Test(arguments: Backends.allFixtures())
    func eventsFollowAJobRunByWorkersToCompletion(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        var configuration = MLJobWorkers.Configuration()
        configuration.workerCount = 1
        configuration.pollInterval = .milliseconds(20)
        configuration.progressFlushInterval = .milliseconds(10)
        let workers = MLJobWorkers(queue: h.queue, configuration: configuration)
        workers.register(.train) { job in
            for step in 1...3 {
                try await job.checkpoint(["step": .int(Int64(step))], progress: Double(step) * 30)
            }
            return ["accuracy": 0.9]
        }
        let id = try await h.queue.submit(MLJobSubmission(kind: .train, target: "m"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await workers.run() }
            try await h.run { client in
                let reply = try await client.get("/v1/jobs/\(MLKey.job(id))/events")
                #expect(reply.status == .ok)
                let events = Self.events(reply.text)
                #expect(events.first?.name == "status")
                #expect(events.last?.name == "status")
                #expect(events.last?.data.string("status") == "completed")
                #expect(events.last?.data["metrics"] == ["accuracy": 0.9])
                #expect(events.map(\.id) == Array(1...events.count))
                // Statuses only move forward: queued, then running, then completed, once.
                let statuses = events.compactMap { $0.data.string("status") }
                let ranks = statuses.map { ["queued": 0, "running": 1, "completed": 2][$0] ?? -1 }
                #expect(!ranks.contains(-1), "\(statuses)")
                #expect(ranks == ranks.sorted(), "statuses went back: \(statuses)")
                #expect(statuses.filter { $0 == "completed" }.count == 1)
                // Progress moves forward too: the handler reports 30, 60, 90, then the completion 100.
                let progress = events.compactMap { $0.data["progress"]?.doubleValue }
                #expect(progress == progress.sorted(), "progress went back: \(progress)")
            }
            workers.beginShutdown()
            try await group.waitForAll()
        }
    }

    struct Event {
        var name: String
        var id: Int
        var data: MLJSONObject
    }

    /// Parses a text/event-stream body.
    static func events(_ text: String) -> [Event] {
        text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.compactMap { block in
            var event = Event(name: "", id: 0, data: [:])
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)) }
                if line.hasPrefix("id: ") { event.id = Int(line.dropFirst(4)) ?? -1 }
                if line.hasPrefix("data: ") {
                    event.data = (try? MLJSONValue.parseObject(String(line.dropFirst(6)), field: "data")) ?? [:]
                }
            }
            return event
        }
    }
}
