import ArgumentParser
import RedML

/// `redml store check`: the integrity check, with a failing exit code when it
/// finds problems.
struct StoreCheckCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a store's records and blobs (and a SQLite file's pages); exit non-zero on any problem.",
        discussion: """
            Checks that every registry and job record \
            reads as a model, version or job, and every history event (model_history, \
            job_history) as one (unreadable_record; on PostgreSQL this includes the jobs a claim or \
            rescue set aside), that no model's \
            latest_version is below a version stored for it (model_counter_behind), that every running job \
            has its lease entry (running_job_without_lease) and every ready entry its job record \
            (ready_entry_without_job), and, unless --no-verify-blobs, that every blob has all its chunks \
            and its bytes still hash to its SHA-256 (this reads every blob). On a SQLite store it first \
            runs SQLite's integrity check over every page and finds values that are not JSON \
            (corrupt_value). On PostgreSQL, the server's own tools check its pages (amcheck); \
            the job histories are read job by job, one query each.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// Whether to read and hash every blob.
    @Flag(inversion: .prefixedNo, help: "Read every blob and verify its SHA-256 (the default).")
    var verifyBlobs = true

    private struct Result: Encodable {
        var store: String
        var integrity: IntegritySummary
    }

    /// Checks, prints each problem, and fails if there is any.
    func run() async throws {
        let result = try await options.withStore(create: false) { opened in
            guard let sqlite = opened.sqlite else {
                let (blobProblems, blobs) = try await BlobCheck.problems(in: opened.store, verify: verifyBlobs)
                let (records, read) = try await RecordReadCheck.problems(in: opened.store, besides: [])
                let report = MLIntegrityReport(entriesChecked: read, blobsChecked: blobs, problems: records + blobProblems)
                return Result(store: opened.location.description, integrity: IntegritySummary(report, blobsVerified: verifyBlobs))
            }
            var report = try await sqlite.checkIntegrity(verifyBlobs: verifyBlobs)
            // Only once the pages are sound: reading records through damaged pages fails outright.
            if !report.problems.contains(where: { $0.code == "storage" }) {
                report.problems += try await RecordReadCheck.problems(in: sqlite, besides: report.problems).problems
            }
            return Result(store: sqlite.path, integrity: IntegritySummary(report, blobsVerified: verifyBlobs))
        }
        if options.json {
            try Console.json(result)
        } else {
            result.integrity.problems.forEach { Console.line("problem \($0.code): \($0.message)") }
            Console.line("\(result.store): \(result.integrity.line)")
        }
        guard result.integrity.healthy else {
            let count = result.integrity.problems.count
            var failure = CLIError(
                "store \(result.store) has \(count) integrity problem\(count == 1 ? "" : "s") (listed on stdout); "
                    + (CLIError.onPostgres ? "restore a healthy backup with pg_restore"
                        : "restore a healthy backup with `redml store restore`"))
            failure.resultPrinted = options.json
            throw failure
        }
    }
}
