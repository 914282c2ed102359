import Testing

/// Checks that a run failed the way an operator should see it: a non-zero
/// status and exactly one `redml: …` line on stderr, with no crash report.
func expectCleanFailure(
    _ result: RedMLResult, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status > 0, "expected a failing exit status: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "expected one stderr line: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasPrefix("redml: "), "\(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(text), "stderr should mention '\(text)': \(result)", sourceLocation: sourceLocation)
    #expect(!result.stderr.contains("Fatal error"), "\(result)", sourceLocation: sourceLocation)
}

/// Checks that a run succeeded.
func expectSuccess(_ result: RedMLResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 0, "expected success: \(result)", sourceLocation: sourceLocation)
}
