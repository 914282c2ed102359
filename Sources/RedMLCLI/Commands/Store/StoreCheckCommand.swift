import ArgumentParser

/// `redml store check`: the integrity check, with a failing exit code when it
/// finds problems.
struct StoreCheckCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a SQLite store's file, records and blobs; exit non-zero on any problem.",
        discussion: """
            Runs SQLite's integrity check over every page, checks that every registry and job record \
            is JSON and reads as a model, version or job, and every history event (model_history, \
            job_history) as one (unreadable_record), that no model's \
            latest_version is below a version stored for it (model_counter_behind), that every running job \
            has its lease entry (running_job_without_lease) and every ready entry its job record \
            (ready_entry_without_job), that every blob has all \
            its chunks and, unless --no-verify-blobs, that every blob's bytes still hash to its \
            SHA-256 (this reads every blob).
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
        let result = try await options.withSQLiteStore(
            for: "store check", postgresAlternative: "`redml models list` and `redml jobs list` name the records they cannot read", create: false
        ) { sqlite in
            var report = try await sqlite.checkIntegrity(verifyBlobs: verifyBlobs)
            // Only once the pages are sound: reading records through damaged pages fails outright.
            if !report.problems.contains(where: { $0.code == "storage" }) {
                report.problems += try await RecordReadCheck.problems(in: sqlite, besides: report.problems)
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
                    + "restore a healthy backup with `redml store restore`")
            failure.resultPrinted = options.json
            throw failure
        }
    }
}
