import Foundation
import Testing

@Suite("redml train")
struct TrainCommandTests {
    @Test("a --label the data has no column for fails before anything is submitted",
          arguments: ["rows.csv", "builtin:iris"])
    func unknownLabel(data: String) async throws {
        let scratch = try ScratchDirectory()
        try Data("width,height,kind\n1,2,a\n3,4,b\n".utf8).write(to: scratch.url.appendingPathComponent("rows.csv"))
        expectSuccess(try await scratch.redml("store", "migrate", "--store", "s.sqlite"))
        let result = try await scratch.redml(
            "train", "--data", data, "--model", "m", "--label", "nosuch", "--wait", "--store", "s.sqlite")
        expectCleanFailure(result, mentioning: "--label nosuch: --data \(data) has no such column (columns: ")
        #expect(result.stderr.contains(data == "rows.csv" ? "width, height, kind" : "species"), "\(result)")
        let jobs = try await scratch.redml("jobs", "list", "--store", "s.sqlite")
        expectSuccess(jobs)
        #expect(jobs.stdout == "no jobs\n", "\(jobs)")
    }
}
