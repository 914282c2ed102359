import RedML

/// An integrity report as the commands print it.
struct IntegritySummary: Encodable {
    /// Whether nothing was found wrong.
    var healthy: Bool
    /// Entries examined.
    var entriesChecked: Int
    /// Committed blobs examined.
    var blobsChecked: Int
    /// Whether every blob's bytes were read and hashed.
    var blobsVerified: Bool
    /// Everything found wrong.
    var problems: [MLIntegrityReport.Problem]

    enum CodingKeys: String, CodingKey {
        case healthy, problems
        case entriesChecked = "entries_checked"
        case blobsChecked = "blobs_checked"
        case blobsVerified = "blobs_verified"
    }

    /// Summarises `report`.
    init(_ report: MLIntegrityReport, blobsVerified: Bool) {
        healthy = report.isHealthy
        entriesChecked = report.entriesChecked
        blobsChecked = report.blobsChecked
        self.blobsVerified = blobsVerified
        problems = report.problems
    }

    /// One line: `healthy: 5 entries and 2 blobs checked, blob bytes verified`.
    var line: String {
        let state = healthy ? "healthy" : "\(problems.count) problem\(problems.count == 1 ? "" : "s")"
        let blobs = blobsVerified ? "blob bytes verified" : "blob bytes not read (--no-verify-blobs)"
        return "\(state): \(Self.count(entriesChecked, "entry", "entries")) and "
            + "\(Self.count(blobsChecked, "blob", "blobs")) checked, \(blobs)"
    }

    private static func count(_ number: Int, _ one: String, _ many: String) -> String {
        "\(number) \(number == 1 ? one : many)"
    }
}
