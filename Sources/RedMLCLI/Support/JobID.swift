import RedML

/// Job ids as the commands take them: the 32 hex digits of ``MLKey/job(_:)``.
enum JobID {
    /// Parses a job id argument.
    ///
    /// - Throws: ``CLIError`` naming the bad text and the expected form.
    static func parse(_ text: String) throws -> UInt128 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let id = MLKey.parseJob(trimmed) else {
            throw CLIError(
                "bad job id '\(DisplayText.oneLine(String(text.prefix(80))))': expected 32 hex digits as "
                    + "`redml jobs submit` and `redml jobs list` print them, such as 0193a3c0f6a27c3e8b5d1e2f3a4b5c6d")
        }
        return id
    }
}
