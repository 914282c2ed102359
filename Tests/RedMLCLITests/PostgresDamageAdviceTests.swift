import Foundation
import RedMLTestFixtures
import Testing

/// Damage found in a PostgreSQL store is met with advice that works there:
/// `redml store check`, psql and `pg_restore` (`redml store restore` takes SQLite stores only).
@Suite("PostgreSQL damage advice", .enabled(if: !PostgresBackend.isSkipped, "REDML_SKIP_POSTGRES=1"))
struct PostgresDamageAdviceTests {
    @Test("a corrupt model record on PostgreSQL points to store check, psql and pg_restore, not to the SQLite-only store restore")
    func corruptRecordAdvice() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            try await Self.registerModels(["iris", "wine"], in: directory, to: scratch)
            try await scratch.execute(
                "UPDATE \"\(scratch.schema)\".ml_kv SET value = '{oops' WHERE namespace = 'models' AND key = 'wine'")

            let shown = try await directory.redml("models", "show", "wine", "--store", scratch.url)
            #expect(shown.status == 1 && shown.stderr.contains("models/wine"), "\(shown)")
            Self.expectPostgresAdvice(shown)

            let listed = try await directory.redml("models", "list", "--store", scratch.url)
            #expect(listed.status == 0 && listed.stdout.contains("iris"), "\(listed)")
            #expect(listed.stderr.contains("models/wine") && listed.stderr.contains("redml store check"), "\(listed)")
        }
    }

    @Test("a job whose record cannot be read is shown as job_corrupt, naming it, with advice for PostgreSQL")
    func corruptJobAdvice() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            let id = try await Self.submitJob(in: directory, to: scratch)
            try await scratch.execute("UPDATE \"\(scratch.schema)\".ml_job SET record = '{oops' WHERE key = '\(id)'")

            let shown = try await directory.redml("jobs", "show", id, "--json", "--store", scratch.url)
            #expect(shown.status == 1 && shown.stderr.contains("jobs/\(id)") && shown.stderr.contains("not valid JSON"), "\(shown)")
            Self.expectPostgresAdvice(shown)
            let error = try #require(try shown.jsonObject()["error"] as? [String: Any], "\(shown)")
            #expect(error["code"] as? String == "job_corrupt", "\(shown)")
        }
    }

    @Test("a statement the server fails is met with advice about the server, not about a SQLite file")
    func serverErrorAdvice() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            let id = try await Self.submitJob(in: directory, to: scratch)
            // Damage no migration repairs: the history's table is gone, so reading a history fails on the server.
            try await scratch.execute("DROP TABLE \"\(scratch.schema)\".ml_job_event CASCADE")

            let history = try await directory.redml("jobs", "history", id, "--store", scratch.url)
            #expect(history.status == 1 && history.stderr.contains("does not exist"), "\(history)")
            #expect(history.stderr.contains("PostgreSQL server") && !history.stderr.contains("SQLite"), "\(history)")
        }
    }

    @Test("store check reads a PostgreSQL store's records, histories and blobs, and names what is damaged")
    func storeCheckOnPostgres() async throws {
        try await PostgresScratch.withSchema { scratch in
            let directory = try ScratchDirectory()
            try await Self.registerModels(["iris"], in: directory, to: scratch)
            let id = try await Self.submitJob(in: directory, to: scratch)
            let other = try await Self.submitJob(in: directory, to: scratch)

            let healthy = try await directory.redml("store", "check", "--json", "--store", scratch.url)
            expectSuccess(healthy)
            let summary = try #require(try healthy.jsonObject()["integrity"] as? [String: Any], "\(healthy)")
            #expect(summary["healthy"] as? Bool == true && summary["blobs_checked"] as? Int == 1, "\(healthy)")
            // A model, its version, its weights' reference count and its two events (registered, activated);
            // two jobs, one event each.
            #expect(summary["entries_checked"] as? Int == 9, "\(healthy)")

            let schema = "\"\(scratch.schema)\""
            try await scratch.execute("UPDATE \(schema).ml_job SET record = '{oops' WHERE key = '\(id)'")
            try await scratch.execute("UPDATE \(schema).ml_job_event SET record = '{\"at_ms\": 1}' WHERE key = '\(other)'")
            try await scratch.execute("UPDATE \(schema).ml_kv SET value = '[]' WHERE namespace = 'model_history'")
            try await scratch.execute("UPDATE \(schema).ml_blob_chunks SET data = 'altered'::bytea")

            let damaged = try await directory.redml("store", "check", "--store", scratch.url)
            // Both of the model's events are damaged.
            expectCleanFailure(damaged, mentioning: "5 integrity problems")
            let problems = damaged.stdout.split(separator: "\n").filter { $0.hasPrefix("problem ") }
            #expect(problems.count == 5, "\(damaged)")
            for expected in ["unreadable_record: ml persistence value corrupted: jobs/\(id)",
                             "unreadable_record: ml persistence value corrupted: job_history/\(other)/",
                             "unreadable_record: ml persistence value corrupted: model_history/iris/",
                             "blob_mismatch: "] {
                #expect(problems.contains { $0.hasPrefix("problem " + expected) }, "\(expected): \(damaged)")
            }
            #expect(damaged.stderr.contains("pg_restore") && !damaged.stderr.contains("redml store restore"), "\(damaged)")
        }
    }

    /// Expects advice that works on PostgreSQL: `redml store check`, and `pg_restore` rather than the SQLite-only `redml store restore`.
    private static func expectPostgresAdvice(_ result: RedMLResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.stderr.contains("pg_restore") && !result.stderr.contains("redml store restore"), "\(result)",
                sourceLocation: sourceLocation)
        #expect(result.stderr.contains("redml store check"), "\(result)", sourceLocation: sourceLocation)
    }

    /// Registers a version of each model through `redml models register`, with the same 7 bytes of weights.
    private static func registerModels(_ names: [String], in directory: ScratchDirectory, to scratch: PostgresScratch) async throws {
        let weights = directory.url.appendingPathComponent("w.bin")
        try Data("weights".utf8).write(to: weights)
        for name in names {
            let registered = try await directory.redml(
                "models", "register", name, "--weights", weights.path, "--store", scratch.url)
            #expect(registered.status == 0, "\(registered)")
        }
    }

    /// Submits a `train` job through `redml jobs submit`; returns its id.
    private static func submitJob(in directory: ScratchDirectory, to scratch: PostgresScratch) async throws -> String {
        let submitted = try await directory.redml("jobs", "submit", "train", "spam", "--json", "--store", scratch.url)
        return try #require(try submitted.jsonObject()["id"] as? String, "\(submitted)")
    }
}
