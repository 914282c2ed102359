import RedMLCore
import RedMLQueue

extension MLExternalHandler {
    /// Parses the `KIND=COMMAND` syntax of `redml worker --exec`, such as
    /// `train=python3 train.py`: the kind is everything before the first `=`,
    /// the command everything after it, both trimmed of surrounding spaces.
    ///
    /// - Throws: ``MLExternalHandlerError`` with code `missing_separator`,
    ///   `empty_kind`, `empty_command` or `invalid_kind` (a kind must be 1–64
    ///   letters, digits, `_`, `-` or `.`, as the queue requires).
    public static func parse(_ argument: String) throws(MLExternalHandlerError) -> (kind: MLJob.Kind, command: String) {
        guard let separator = argument.firstIndex(of: "=") else {
            throw MLExternalHandlerError(
                code: .missingSeparator,
                message: "'\(argument.prefix(80))' must be KIND=COMMAND, like train=python3 train.py: there is no '='")
        }
        let kind = argument[..<separator].trimmingSpaces
        let command = argument[argument.index(after: separator)...].trimmingSpaces
        guard !kind.isEmpty else {
            throw MLExternalHandlerError(
                code: .emptyKind, message: "'\(argument.prefix(80))' must name a job kind before '=', like train=python3 train.py")
        }
        guard kind.utf8.count <= 64, kind.utf8.allSatisfy(MLTextRules.isNameByte) else {
            throw MLExternalHandlerError(
                code: .invalidKind,
                message: "job kind '\(kind.prefix(80))' must be 1–64 characters of letters, digits, '_', '-' and '.'")
        }
        guard !command.isEmpty else {
            throw MLExternalHandlerError(
                code: .emptyCommand, message: "'\(argument.prefix(80))' must give a command after '=' for kind '\(kind)'")
        }
        return (MLJob.Kind(rawValue: kind), command)
    }
}

extension Substring {
    /// The text without leading and trailing spaces, tabs and line breaks.
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
