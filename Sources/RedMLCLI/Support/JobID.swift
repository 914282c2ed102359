import RedML

/// Job ids as the commands take them: the 32 hex digits of ``MLKey/job(_:)``.
enum JobID {
    /// Parses a job id argument: 32 hex digits, or the same in UUID form with dashes.
    ///
    /// - Throws: ``CLIError`` naming the bad text and the expected form.
    static func parse(_ text: String) throws -> UInt128 {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        let dashes = Array(trimmed.utf8).indices.filter { Array(trimmed.utf8)[$0] == UInt8(ascii: "-") }
        if trimmed.utf8.count == 36, dashes == [8, 13, 18, 23] {
            trimmed.removeAll { $0 == "-" }  // the same 128 bits written as a UUID, 8-4-4-4-12
        }
        guard let id = MLKey.parseJob(trimmed) else {
            throw CLIError.invalidArgument(
                "bad job id '\(DisplayText.oneLine(String(text.prefix(80))))': expected 32 hex digits as "
                    + "`redml jobs submit` and `redml jobs list` print them, such as 0193a3c0f6a27c3e8b5d1e2f3a4b5c6d")
        }
        return id
    }
}
