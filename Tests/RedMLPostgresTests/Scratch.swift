import PostgresNIO
import RedML
import RedMLPostgres
import RedMLTestFixtures

/// Helpers that give a test its own schemas and drop them afterwards.
enum Scratch {
    /// Runs `body` with `count` fresh schema names, dropped when it ends.
    static func withSchemas<T>(_ count: Int = 1, _ body: ([String]) async throws -> T) async throws -> T {
        let names = (0..<count).map { _ in PostgresBackend.uniqueSchemaName() }
        do {
            let result = try await body(names)
            for name in names { try await PostgresBackend.dropSchema(name) }
            return result
        } catch {
            for name in names { try? await PostgresBackend.dropSchema(name) }
            throw error
        }
    }

    /// Runs `body` with a store of its own pool (its own connections, as
    /// another process would have) on `schema`.
    static func withOwnPool<T: Sendable>(
        schema: String, connections: Int = 4, _ body: (PostgresMLPersistence) async throws -> T
    ) async throws -> T {
        try await PostgresMLPersistence.withPersistence(
            url: try PostgresBackend.url(), schema: schema, maximumConnections: connections, body)
    }

    /// Submits a job ahead of others (priority 5) and damages its record
    /// behind the queue's back: `record` is the SQL of the new record, over
    /// the old one as `record`. Returns the job's id.
    static func submitDamagedJob(_ queue: MLJobQueue, schema: String, record: String) async throws -> UInt128 {
        let damaged = try await queue.submit(MLJobSubmission(kind: .train, target: "damaged", priority: 5))
        let changed = try await textRows(PostgresQuery(unsafeSQL: """
            UPDATE "\(schema)".ml_job SET record = \(record) WHERE key = '\(MLKey.job(damaged))' RETURNING key
            """), columns: 1)
        guard changed == [MLKey.job(damaged)] else { throw ScratchError("could not damage job \(MLKey.job(damaged))") }
        return damaged
    }

    /// A scratch helper failed.
    struct ScratchError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The rows of a query on the shared pool, whose columns must be text (NULL reads as "").
    static func textRows(_ query: PostgresQuery, columns: Int) async throws -> [String] {
        var lines: [String] = []
        for try await row in try await PostgresBackend.sharedClient().query(query) {
            var cells: [String] = []
            for cell in row.prefix(columns) {
                cells.append(try cell.decode(String?.self) ?? "")
            }
            lines.append(cells.joined(separator: "|"))
        }
        return lines
    }
}
