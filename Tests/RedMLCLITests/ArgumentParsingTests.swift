import Foundation
import RedML
import RedMLCore
import Testing

@testable import RedMLCLI

@Suite("argument parsing")
struct ArgumentParsingTests {
    @Test("the JSON check names the first error's line and column", arguments: [
        (#"{"a": 1,, }"#, 1, 9), ("[1, 2", 1, 6), ("{\n  \"a\": tru\n}", 2, 8), (#"{"a": 1} x"#, 1, 10), ("", 1, 1),
    ])
    func jsonPositions(text: String, line: Int, column: Int) throws {
        let problem = try #require(MLJSONSyntaxCheck.firstProblem(in: text))
        #expect(problem.line == line)
        #expect(problem.column == column)
    }

    @Test("a key given twice in one object is a problem, however it is spelled", arguments: [
        (#"{"a": 1, "a": 2}"#, 1, 10, "a"), (#"{"x": {"b": 1, "\u0062": 2}}"#, 1, 16, "b"),
        ("{\"\\n\": 1,\n \"\\u000a\": 2}", 2, 2, "\n"), (#"[{"e\u0301": 1, "\u00e9": 2}]"#, 1, 17, "é"),
    ])
    func duplicateKeys(text: String, line: Int, column: Int, key: String) throws {
        let problem = try #require(MLJSONSyntaxCheck.firstProblem(in: text))
        #expect(problem.reason == "duplicate key \"\(key)\" in an object", "\(problem)")
        #expect(problem.line == line)
        #expect(problem.column == column)
        #expect(throws: MLJSONError.self) { try MLJSONValue.parse(text, field: "f") }
    }

    @Test("half of a UTF-16 pair alone is a problem, named and pointed at", arguments: [
        (#"{"d": "\ud800"}"#, 1, 8, "d800"), (#"["ok \ud83d\ude00", "\udE00x"]"#, 1, 22, "de00"),
        (#""\ud800\u0041""#, 1, 2, "d800"), (#""\uD800"#, 1, 2, "d800"),
    ])
    func loneSurrogates(text: String, line: Int, column: Int, unit: String) throws {
        let problem = try #require(MLJSONSyntaxCheck.firstProblem(in: text))
        #expect(problem.reason == "lone UTF-16 surrogate \\u\(unit) in a string (not a character)", "\(problem)")
        #expect(problem.line == line, "\(problem)")
        #expect(problem.column == column, "\(problem)")
    }

    @Test("a misspelt literal is named as written", arguments: [
        ("nope", "'nope' is not a JSON value (true, false, null, a number, a \"string\", an array or an object)"),
        ("[1, nan]", "'nan' is not a JSON value (JSON has no NaN or infinity)"),
        (#"{"a": NaN}"#, "'NaN' is not a JSON value (JSON has no NaN or infinity)"),
        ("[Infinity, 1]", "'Infinity' is not a JSON value (JSON has no NaN or infinity)"),
        ("-Infinity", "'-Infinity' is not a JSON value (JSON has no NaN or infinity)"),
        ("yes", "'yes' is not a JSON value (true, false, null, a number, a \"string\", an array or an object)"),
        (#"{"a": tru}"#, "'tru' is not a JSON value (true, false, null, a number, a \"string\", an array or an object)"),
    ])
    func misspeltLiterals(text: String, reason: String) throws {
        let problem = try #require(MLJSONSyntaxCheck.firstProblem(in: text))
        #expect(problem.reason == reason, "\(problem)")
    }

    @Test("valid JSON has no problem", arguments: [
        #"{"a": [1, -2.5e3, true, null, "x\u00e9\n"]}"#, "[]", "0", #"[{"a": 1}, {"a": 2}]"#, #"{"a": {"a": 1}, "A": 2}"#,
        #"["\ud83d\ude00", "\uD83D\uDE00"]"#,
    ])
    func validJSON(text: String) {
        #expect(MLJSONSyntaxCheck.firstProblem(in: text) == nil)
    }

    @Test("a job id is 32 hex digits, or the same 128 bits in UUID form")
    func jobIDs() throws {
        let id: UInt128 = 0x0193a3c0_f6a2_7c3e_8b5d_1e2f3a4b5c6d
        #expect(try JobID.parse("0193a3c0f6a27c3e8b5d1e2f3a4b5c6d") == id)
        #expect(try JobID.parse("0193A3C0-F6A2-7C3E-8B5D-1E2F3A4B5C6D") == id)
        #expect(try JobID.parse(" 0193a3c0-f6a2-7c3e-8b5d-1e2f3a4b5c6d ") == id)
        for bad in ["0193a3c0-f6a2-7c3e-8b5d1e2f3a4b5c6d", "0193a3c0f-6a2-7c3e-8b5d-1e2f3a4b5c6d", "0193a3c0f6a27c3e8b5d1e2f3a4b5c6", "-0193a3c0f6a27c3e8b5d1e2f3a4b5c6d-", ""] {
            #expect(throws: CLIError.self, "\(bad)") { try JobID.parse(bad) }
        }
    }

    @Test("jobs show prints a small JSON object whole and a large one (a checkpoint) as its keys and size")
    func shownJSON() {
        let small: MLJSONObject = ["epoch": 3]
        #expect(JobsShowCommand.shown(small) == #"{"epoch":3}"#)
        let large: MLJSONObject = ["epoch": 3, "moments": .array((0..<500).map { .double(Double($0) / 7) })]
        let shown = JobsShowCommand.shown(large)
        #expect(shown.hasPrefix("{…} ") && shown.contains(" bytes, keys: epoch, moments (--json prints it whole)"), "\(shown)")
        #expect(shown.count < 120)
    }

    @Test("--run-at takes ISO 8601, delays from now and epoch milliseconds")
    func runAt() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try RunAtTime.parse("+30s", now: now) == now.addingTimeInterval(30))
        #expect(try RunAtTime.parse("+5m", now: now) == now.addingTimeInterval(300))
        #expect(try RunAtTime.parse("+2h", now: now) == now.addingTimeInterval(7_200))
        #expect(try RunAtTime.parse("+1d", now: now) == now.addingTimeInterval(86_400))
        #expect(try RunAtTime.parse("+500ms", now: now) == now.addingTimeInterval(0.5))
        #expect(try RunAtTime.parse("1795000000000", now: now) == Date(timeIntervalSince1970: 1_795_000_000))
        #expect(try RunAtTime.parse("2026-12-01T09:30:00Z", now: now) == Date(timeIntervalSince1970: 1_796_117_400))
        #expect(try RunAtTime.parse("2026-12-01T10:30:00.250+01:00", now: now) == Date(timeIntervalSince1970: 1_796_117_400.25))
        for bad in ["soon", "+5", "+m", "2026-12-01", "-5s", ""] {
            #expect(throws: CLIError.self) { try RunAtTime.parse(bad, now: now) }
        }
    }
}

/// Numbers that start with a minus sign are values, not options: a negative
/// priority is taken, and a negative count gets the command's own range error
/// instead of ArgumentParser's "Missing expected argument".
@Suite("negative numbers as option values")
struct NegativeNumberArgumentTests {
    @Test("jobs submit takes a negative priority, and passes a negative attempt count on to the submission's check")
    func negativePriority() throws {
        let command = try RedMLCommand.parseAsRoot(
            ["jobs", "submit", "train", "iris", "--priority", "-5", "--max-attempts", "-2"])
        let submit = try #require(command as? JobsSubmitCommand)
        #expect(submit.priority == -5)
        #expect(submit.maxAttempts == -2)
    }

    @Test("a negative count is refused with the option's range", arguments: [
        (["jobs", "list", "--limit", "-1"], "--limit must be 1…100000, got -1"),
        (["jobs", "watch", "0193a3c0f6a27c3e8b5d1e2f3a4b5c6d", "--interval", "-10"], "--interval"),
    ])
    func negativeCounts(arguments: [String], expected: String) {
        do {
            let command = try RedMLCommand.parseAsRoot(arguments)
            Issue.record("\(arguments) parsed as \(command)")
        } catch {
            let message = RedMLCommand.message(for: error)
            #expect(message.contains(expected), "\(message)")
            #expect(!message.contains("Missing expected argument"), "\(message)")
        }
    }
}
