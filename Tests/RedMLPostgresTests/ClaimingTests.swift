import Foundation
import Logging
import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures
import RedMLTesting
import Synchronization
import Testing

/// The PostgreSQL-only powers the queue uses: `SKIP LOCKED` claims,
/// `LISTEN`/`NOTIFY` and leased roles, each between two pools (two
/// sessions, as two processes would have).
@Suite("PostgreSQL claiming, notifications and roles", .needsPostgres)
struct ClaimingTests {
    @Test(arguments: MLClaimingConformance.cases)
    func conforms(_ conformance: MLClaimingConformance.Case) async throws {
        try await conformance.run { body in
            try await Scratch.withSchemas { schemas in
                try await Scratch.withOwnPool(schema: schemas[0], connections: 6) { first in
                    try await Scratch.withOwnPool(schema: schemas[0], connections: 6) { second in
                        try await body(first, second)
                    }
                }
            }
        }
    }

    /// In READ COMMITTED a check-then-upsert cannot see a row that another
    /// transaction inserted and has not committed: both would pass, and the
    /// second would overwrite the first. A put-if-absent must wait for that
    /// insert and then fail with a conflict, in `ml_apply` (one statement) and
    /// statement by statement (more operations than one call takes).
    @Test("a locked put-if-absent loses to a row another transaction inserted first", arguments: [false, true])
    func lockedPutIfAbsentWaitsForAnUncommittedInsert(statementByStatement: Bool) async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0], connections: 4) { store in
                var batch = MLBatch()
                batch.put(namespace: "things", key: "k", value: "second", if: .absent)
                if statementByStatement {
                    for index in 0..<300 { batch.delete(namespace: "things", key: "nothing-\(index)") }
                }
                let table = "\"\(store.schema)\".ml_kv"
                let outcome = try await store.client.withConnection { connection -> Result<MLRevision, any Error> in
                    _ = try await connection.query("BEGIN", logger: Logger(label: "test"))
                    _ = try await connection.query(
                        PostgresQuery(unsafeSQL: "INSERT INTO \(table) VALUES ('things', 'k', 'first', 1)"),
                        logger: Logger(label: "test"))
                    let attempt = Task { [batch] in try await store.commitLocked(batch) }
                    try await Task.sleep(for: .milliseconds(300))  // the attempt now waits on the uncommitted row
                    _ = try await connection.query("COMMIT", logger: Logger(label: "test"))
                    return await attempt.result
                }
                switch outcome {
                case .success(let revision):
                    Issue.record("the put-if-absent succeeded over another transaction's row (revision \(revision))")
                case .failure(let error):
                    guard case .conflict(namespace: "things", key: "k", expected: .absent, found: _)? = error as? MLPersistenceError
                    else {
                        Issue.record("expected a conflict on things/k, got \(error)")
                        return
                    }
                }
                #expect(try await store.entry(namespace: "things", key: "k")?.value == "first")
            }
        }
    }

    /// Both paths: one `ml_apply` statement with the notification in it, and
    /// a serializable transaction for a batch too big for one statement.
    @Test("a notification reaches a listener on another pool after the commit, and a failed commit sends none",
          arguments: [false, true])
    func notificationsFollowCommits(statementByStatement: Bool) async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { listener in
                try await Scratch.withOwnPool(schema: schemas[0]) { sender in
                    let (topics, continuation) = AsyncStream.makeStream(of: String.self)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await listener.listen { continuation.yield($0) } }
                        var iterator = topics.makeAsyncIterator()
                        #expect(await iterator.next() == "")  // the wake-up on connecting

                        var failing = MLBatch()
                        var batch = MLBatch()
                        if statementByStatement {
                            for index in 0..<300 {
                                failing.delete(namespace: "things", key: "nothing-\(index)")
                                batch.delete(namespace: "things", key: "nothing-\(index)")
                            }
                        }
                        failing.put(namespace: MLNamespace.models, key: "m", value: "x", if: .revision(MLRevision(rawValue: 999_999)))
                        let error = await #expect(throws: MLPersistenceError.self) {
                            try await sender.commit(failing, notifying: "lost")
                        }
                        guard case .conflict(namespace: MLNamespace.models, key: "m", expected: _, found: nil)? = error else {
                            Issue.record("expected a conflict on models/m, got \(String(describing: error))")
                            return
                        }
                        batch.put(namespace: MLNamespace.models, key: "m", value: "x")
                        try await sender.commit(batch, notifying: "job_ready")
                        // Only the committed batch's topic arrives.
                        #expect(await iterator.next() == "job_ready")
                        group.cancelAll()
                    }
                }
            }
        }
    }

    /// Concurrent notifying commits of one process: every topic must arrive,
    /// and none before its batch has committed. The batches wait on rows
    /// another transaction inserted, and no topic may arrive until that
    /// transaction rolls back and lets them commit; each topic, once heard,
    /// finds its batch readable.
    @Test("concurrent notifying commits each reach a listener on another pool, and none before its commit",
          .timeLimit(.minutes(1)))
    func concurrentNotifyingCommitsAllArriveAfterTheirCommits() async throws {
        let count = 40
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { listener in
                try await Scratch.withOwnPool(schema: schemas[0], connections: 12) { sender in
                    try await sender.migrate()
                    let (topics, continuation) = AsyncStream.makeStream(of: String.self)
                    let heard = Heard()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await listener.listen { continuation.yield($0) } }
                        let (connected, connectedContinuation) = AsyncStream.makeStream(of: Void.self)
                        let reader = Task { () async throws -> Void in
                            var iterator = topics.makeAsyncIterator()
                            #expect(await iterator.next() == "")  // the wake-up on connecting
                            connectedContinuation.finish()
                            while heard.count < count, let topic = await iterator.next() {
                                guard let index = topic.split(separator: "-").last.flatMap({ Int($0) }) else {
                                    Issue.record("unexpected topic \(topic)")
                                    continue
                                }
                                #expect(try await listener.entry(namespace: "things", key: "k-\(index)")?.value == "v",
                                        "\(topic) arrived before its batch could be read")
                                heard.add(topic)
                            }
                        }
                        for await _ in connected {}

                        let table = "\"\(sender.schema)\".ml_kv"
                        try await listener.client.withConnection { blocker in
                            let logger = Logger(label: "test")
                            _ = try await blocker.query("BEGIN", logger: logger)
                            _ = try await blocker.query(PostgresQuery(unsafeSQL: """
                                INSERT INTO \(table) SELECT 'things', 'k-' || i, 'blocker', 1 FROM generate_series(0, \(count - 1)) i
                                """), logger: logger)
                            let senders = Task {
                                try await withThrowingTaskGroup(of: Void.self) { senders in
                                    for index in 0..<count {
                                        senders.addTask {
                                            var batch = MLBatch()
                                            batch.put(namespace: "things", key: "k-\(index)", value: "v", if: .absent)
                                            try await sender.commit(batch, notifying: "topic-\(index)")
                                        }
                                    }
                                    try await senders.waitForAll()
                                }
                            }
                            try await Task.sleep(for: .milliseconds(500))  // the batches now wait on the blocker's rows
                            #expect(heard.count == 0, "topics arrived before their batches committed")
                            _ = try await blocker.query("ROLLBACK", logger: logger)
                            try await senders.value
                        }
                        try await reader.value
                        #expect(heard.topics == Set((0..<count).map { "topic-\($0)" }))
                        group.cancelAll()
                    }
                }
            }
        }
    }

    /// The topics a listener has heard so far.
    private final class Heard: Sendable {
        private let state = Mutex(Set<String>())
        var count: Int { state.withLock { $0.count } }
        var topics: Set<String> { state.withLock { $0 } }
        func add(_ topic: String) { _ = state.withLock { $0.insert(topic) } }
    }

    @Test("a role is held by one session at a time and free again when its holder is done")
    func exclusiveRole() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { first in
                try await Scratch.withOwnPool(schema: schemas[0]) { second in
                    let inner = try await first.exclusively("rescuer") {
                        try await second.exclusively("rescuer") { "second ran inside" }
                    }
                    #expect(inner == .some(nil))
                    #expect(try await second.exclusively("other role") { 1 } == 1)
                    #expect(try await second.exclusively("rescuer") { 2 } == 2)
                }
            }
        }
    }

    @Test("a role whose holder stalled is free again once the holder's lease expires")
    func stalledHolderLosesRole() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { store in
                try await store.migrate()
                // A holder that took the role and then stopped: it never renews or releases.
                try await PostgresBackend.sharedClient().query(
                    """
                    INSERT INTO "\(unescaped: schemas[0])".ml_roles (role, holder, expires_at)
                    VALUES ('rescuer', 'stopped process', clock_timestamp() + interval '1 second')
                    """)
                let whileHeld = try await store.exclusively("rescuer") { 1 }
                #expect(whileHeld == nil)
                let deadline = ContinuousClock.now + .seconds(20)
                var result: Int?
                while result == nil, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    result = try await store.exclusively("rescuer") { 2 }
                }
                #expect(result == 2)
                // Given up at once when done: the next call takes it without waiting for expiry.
                let next = try await store.exclusively("rescuer") { 3 }
                #expect(next == 3)
            }
        }
    }

    @Test("a holder that works longer than one lease keeps renewing it")
    func longHolderKeepsRole() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { first in
                try await Scratch.withOwnPool(schema: schemas[0]) { second in
                    let secondRan = try await first.exclusively("rescuer") { () async throws -> Bool in
                        try await Task.sleep(for: PostgresMLPersistence.roleStallTimeout + .seconds(1))
                        return try await second.exclusively("rescuer") { true } ?? false
                    }
                    #expect(secondRan == false, "nil: the first holder never got the role")
                }
            }
        }
    }

    @Test("workers on another pool start a submitted job at once, not at their next poll")
    func workersWakeOnNotification() async throws {
        try await Scratch.withSchemas { schemas in
            try await Scratch.withOwnPool(schema: schemas[0]) { workerStore in
                try await Scratch.withOwnPool(schema: schemas[0]) { clientStore in
                    var configuration = MLJobWorkers.Configuration()
                    configuration.workerCount = 1
                    configuration.pollInterval = .seconds(60)  // only a notification can wake them in time
                    let workers = MLJobWorkers(queue: MLJobQueue(store: workerStore), configuration: configuration)
                    let started = Mutex<ContinuousClock.Instant?>(nil)
                    workers.register("noop") { _ in
                        started.withLock { $0 = $0 ?? .now }
                        return [:]
                    }
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await workers.run() }
                        // Let the idle workers look once and go to sleep.
                        try await Task.sleep(for: .milliseconds(500))
                        let client = MLJobQueue(store: clientStore)
                        let submittedAt = ContinuousClock.now
                        let id = try await client.submit(MLJobSubmission(kind: "noop", target: "t"))
                        var job = try await client.requireJob(id)
                        while job.status != .completed, ContinuousClock.now - submittedAt < .seconds(20) {
                            try await Task.sleep(for: .milliseconds(20))
                            job = try await client.requireJob(id)
                        }
                        #expect(job.status == .completed)
                        let pickup = try #require(started.withLock { $0 }) - submittedAt
                        #expect(pickup < .seconds(5), "picked up after \(pickup)")
                        workers.beginShutdown()
                        try await group.waitForAll()
                    }
                }
            }
        }
    }
}
