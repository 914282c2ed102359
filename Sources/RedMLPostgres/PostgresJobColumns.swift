import Foundation
import PostgresNIO
import RedMLPersistence

/// Job rows and events as the parallel arrays (one element per row) that the
/// schema's `ml_job_insert` and `ml_job_write` functions take: thousands of
/// rows in one statement, in PostgreSQL's binary array format.
///
/// Array binds cannot hold NULL, so a missing time goes as ``noTime`` (which
/// the functions turn back into NULL) and a missing uniqueness key as a flag.
struct PostgresJobColumns {
    /// Stands for a NULL time in the arrays; no time is that early.
    static let noTime = Int64.min

    var keys: [String] = []
    var expected: [Int64] = []
    var queues: [String] = []
    var kinds: [String] = []
    var statuses: [String] = []
    var priorities: [Int32] = []
    var runAts: [Int64] = []
    var readies: [Bool] = []
    var leases: [Int64] = []
    var finisheds: [Int64] = []
    var hasUnique: [Bool] = []
    var uniqueKeys: [String] = []
    var records: [String] = []
    var eventKeys: [String] = []
    var eventSequences: [Int32] = []
    var eventRecords: [String] = []

    /// The columns of new jobs, checked: distinct keys, each job's event
    /// its own, and no uniqueness key twice among the live ones.
    init(inserting jobs: [MLNewJob]) throws {
        var keys = Set<String>()
        var live = Set<String>()
        for job in jobs {
            try append(job.row, keys: &keys, live: &live)
            try append(job.event, of: job.row.key)
        }
    }

    /// The columns of conditional writes, checked as for an insert.
    init(writing writes: [MLJobWrite]) throws {
        var keys = Set<String>()
        var live = Set<String>()
        for write in writes {
            try append(write.row, keys: &keys, live: &live)
            expected.append(write.expected.rawValue)
            if let event = write.event { try append(event, of: write.row.key) }
        }
    }

    private mutating func append(_ row: MLJobRow, keys: inout Set<String>, live: inout Set<String>) throws {
        try MLInput.check(row.key, "job key")
        try MLInput.check(row.queue, "queue")
        try MLInput.check(row.kind, "kind")
        try MLInput.check(row.status, "status")
        try MLInput.check(row.record, "job record")
        guard keys.insert(row.key).inserted else {
            throw MLPersistenceError.invalidArgument("job \(row.key) is given twice in one call")
        }
        guard let priority = Int32(exactly: row.priority) else {
            throw MLPersistenceError.invalidArgument("priority \(row.priority) of job \(row.key) is out of range")
        }
        guard row.leaseExpiresAtMs != Self.noTime, row.finishedAtMs != Self.noTime else {
            throw MLPersistenceError.invalidArgument("a time of job \(row.key) is out of range")
        }
        if let unique = row.uniqueKey {
            try MLInput.check(unique, "unique key")
            // The unique index would refuse the statement as a whole, which callers take for a lost race.
            if Self.isLive(row.status), !live.insert(unique).inserted {
                throw MLPersistenceError.invalidArgument("two live jobs of one call hold unique key '\(unique)'")
            }
        }
        self.keys.append(row.key)
        queues.append(row.queue)
        kinds.append(row.kind)
        statuses.append(row.status)
        priorities.append(priority)
        runAts.append(row.runAtMs)
        readies.append(row.ready)
        leases.append(row.leaseExpiresAtMs ?? Self.noTime)
        finisheds.append(row.finishedAtMs ?? Self.noTime)
        hasUnique.append(row.uniqueKey != nil)
        uniqueKeys.append(row.uniqueKey ?? "")
        records.append(row.record)
    }

    private mutating func append(_ event: MLJobEventRow, of key: String) throws {
        // One event per job and call, so the functions can tell which one collided.
        guard event.key == key else {
            throw MLPersistenceError.invalidArgument("an event of job \(key) names job \(event.key)")
        }
        guard let sequence = Int32(exactly: event.sequence), sequence >= 1 else {
            throw MLPersistenceError.invalidArgument("event sequence \(event.sequence) of job \(key) is out of range")
        }
        try MLInput.check(event.record, "event record")
        eventKeys.append(event.key)
        eventSequences.append(sequence)
        eventRecords.append(event.record)
    }

    /// Whether a job of `status` is live, so holds its uniqueness key (as `ml_job_unique`'s predicate).
    static func isLive(_ status: String) -> Bool { status == "queued" || status == "running" }

    /// `ml_job_insert(…)` for these jobs, notifying `topic` on `channel` when given.
    func insertCall(_ tables: PostgresTables, channel: String, topic: String?) -> PostgresQuery {
        """
        SELECT \(unescaped: tables.quotedSchema).ml_job_insert(\(keys), \(queues), \(kinds), \(statuses), \
        \(priorities), \(runAts), \(readies), \(leases), \(finisheds), \(hasUnique), \(uniqueKeys), \(records), \
        \(eventKeys), \(eventSequences), \(eventRecords), \(channel), \(topic))
        """
    }

    /// `ml_job_write(…)` for these writes.
    func writeCall(_ tables: PostgresTables) -> PostgresQuery {
        """
        SELECT \(unescaped: tables.quotedSchema).ml_job_write(\(keys), \(expected), \(queues), \(kinds), \
        \(statuses), \(priorities), \(runAts), \(readies), \(leases), \(finisheds), \(hasUnique), \(uniqueKeys), \
        \(records), \(eventKeys), \(eventSequences), \(eventRecords))
        """
    }
}

/// What the job functions report through their SQLSTATEs (see ``PostgresJobTableSQL``).
enum PostgresJobTableErrors {
    /// A conditional write found its row moved on or gone (or its event's sequence taken).
    static let revisionConflict = "RMLJ1"
    /// An inserted job's key is taken.
    static let keyTaken = "RMLJ2"
    /// Another live job holds a uniqueness key.
    static let uniqueKeyHeld = "RMLJ3"

    /// The JSON message of those errors.
    struct Report: Decodable {
        let key: String?
        let found: Int64?
        let event: Bool?
        let uniqueKey: String?
        let holder: String?

        enum CodingKeys: String, CodingKey {
            case key, found, event, holder
            case uniqueKey = "unique_key"
        }
    }

    /// The report of `error` if it is one of the job functions' own.
    static func report(_ error: any Error) -> (state: String, report: Report)? {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState],
            [revisionConflict, keyTaken, uniqueKeyHeld].contains(state)
        else { return nil }
        guard let message = error.serverInfo?[.message],
            let report = try? JSONDecoder().decode(Report.self, from: Data(message.utf8))
        else {
            return (state, Report(key: nil, found: nil, event: nil, uniqueKey: nil, holder: nil))
        }
        return (state, report)
    }

    /// The namespace the key-value layout keeps uniqueness keys in (`MLNamespace.jobUnique`
    /// of RedMLQueue), which a conflict over one names, as it did there.
    static let uniqueNamespace = "job_unique"
}
