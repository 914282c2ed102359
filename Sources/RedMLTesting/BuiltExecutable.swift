import Foundation

/// Finds an executable that SwiftPM built next to the running tests, so that
/// crash and multi-process tests can start real child processes.
public enum BuiltExecutable {
    /// Looks up `name`, in order: the path in the environment variable
    /// `override`, if set; the directory of the test runner
    /// (`CommandLine.arguments[0]`, which under `swift test` on Linux is
    /// `.build/<triple>/debug/<Package>PackageTests.xctest`) and its parents (on
    /// macOS the runner sits inside the `.xctest` bundle); then `Bundle.main`'s
    /// directories and their parents.
    ///
    /// - Returns: the executable, or a message that lists every path tried and how to fix it.
    public static func locate(_ name: String, override: String, buildHint: String) -> Result<URL, LookupFailure> {
        let files = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment[override], !explicit.isEmpty {
            guard files.isExecutableFile(atPath: explicit) else {
                return .failure(LookupFailure(description: "\(override)=\(explicit) is not an executable file"))
            }
            return .success(URL(fileURLWithPath: explicit))
        }
        var starts: [URL] = []
        if let first = CommandLine.arguments.first {
            let runner = URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: files.currentDirectoryPath))
            starts.append(runner.deletingLastPathComponent())
            starts.append(runner.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        starts.append(Bundle.main.bundleURL)
        if let executable = Bundle.main.executableURL { starts.append(executable.deletingLastPathComponent()) }
        var tried: [String] = []
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent(name)
                if !tried.contains(candidate.path) {
                    tried.append(candidate.path)
                    var isDirectory: ObjCBool = false
                    if files.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                        files.isExecutableFile(atPath: candidate.path)
                    {
                        return .success(candidate)
                    }
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        return .failure(
            LookupFailure(
                description: "the \(name) executable was not found; build it (\(buildHint)) or set \(override) "
                    + "to its path. Tried: \(tried.joined(separator: ", "))"))
    }

    /// Why an executable could not be found.
    public struct LookupFailure: Error, CustomStringConvertible {
        /// What was tried and what to do.
        public let description: String
    }
}
