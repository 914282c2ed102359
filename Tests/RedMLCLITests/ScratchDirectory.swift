import Foundation

/// A fresh working directory for one test, removed when the test ends.
final class ScratchDirectory {
    /// The directory.
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("redml-cli-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// Whether `name` exists inside the directory.
    func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: path(name))
    }

    /// Runs `redml` in this directory.
    func redml(_ arguments: String..., environment: [String: String] = [:]) async throws -> RedMLResult {
        try await RedMLExecutable.run(arguments, in: url, environment: environment)
    }

    /// Runs `/usr/bin/sqlite3 <file> <sql>` and fails unless it succeeds.
    func sqlite3(_ file: String, _ sql: String) throws {
        let tool = "/usr/bin/sqlite3"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw RedMLExecutableFailure(description: "\(tool) is missing; install the sqlite3 package (scripts/test does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [path(file), sql]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RedMLExecutableFailure(description: "sqlite3 \(file) '\(sql)' exited with \(process.terminationStatus)")
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
