import Foundation

/// Who runs the command, recorded as the actor of registry changes.
enum Operator {
    /// `cli:<login name>`, or `cli` when the login name is unknown.
    static var actor: String {
        let environment = ProcessInfo.processInfo.environment
        guard let user = environment["USER"] ?? environment["LOGNAME"], !user.isEmpty else { return "cli" }
        return "cli:" + DisplayText.oneLine(String(user.prefix(200)))
    }
}
