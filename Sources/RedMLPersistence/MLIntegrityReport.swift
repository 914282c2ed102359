/// What an integrity check of a store found.
public struct MLIntegrityReport: Sendable, Hashable {
    /// One thing that is wrong, with where it was found.
    public struct Problem: Sendable, Hashable, Codable, CustomStringConvertible {
        /// A stable code: `storage`, `corrupt_value`, `blob_missing_chunks`, `blob_mismatch`.
        public var code: String
        /// What is wrong and where, for example `jobs/00…01: value is not valid JSON`.
        public var message: String

        /// Creates a problem.
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }

        public var description: String { "\(code): \(message)" }
    }

    /// Entries examined.
    public var entriesChecked: Int
    /// Committed blobs examined.
    public var blobsChecked: Int
    /// Everything found wrong; empty when the store is healthy.
    public var problems: [Problem]

    /// Creates a report.
    public init(entriesChecked: Int, blobsChecked: Int, problems: [Problem]) {
        self.entriesChecked = entriesChecked
        self.blobsChecked = blobsChecked
        self.problems = problems
    }

    /// Whether nothing was found wrong.
    public var isHealthy: Bool { problems.isEmpty }
}
