import Testing

@Suite("REDML_LOG_LEVEL")
struct LogLevelTests {
    @Test("a value that names no level is reported on stderr, and the command still runs")
    func unknownLevel() async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("jobs", "list", "--store", "memory:", environment: ["REDML_LOG_LEVEL": "loud"])
        expectSuccess(result)
        #expect(result.stdout == "no jobs\n", "\(result)")
        #expect(result.stderrLines == ["redml: REDML_LOG_LEVEL='loud' is not a log level, so it is ignored; "
                                       + "use one of trace, debug, info, notice, warning, error, critical"], "\(result)")
    }

    @Test("a level it names is taken without a word", arguments: ["debug", "error", "", "TRACE", "Warning"])
    func knownLevel(level: String) async throws {
        let scratch = try ScratchDirectory()
        let result = try await scratch.redml("jobs", "list", "--store", "memory:", environment: ["REDML_LOG_LEVEL": level])
        expectSuccess(result)
        #expect(!result.stderr.contains("REDML_LOG_LEVEL"), "\(result)")
    }
}
