import Foundation

/// Where the commands write: data on stdout, failures on stderr.
enum Console {
    /// Writes one line to stdout, at once: stdio holds back what goes to a
    /// pipe or a file, and a script reading a long-running command (`serve`'s
    /// address, `jobs watch`'s progress) needs each line when it is written.
    static func line(_ text: String = "") {
        print(text)
        fflush(nil)  // every stream: `stdout` itself is a global Swift 6 will not share
    }

    /// Writes `text` to stdout as it is (no newline added) and at once, after
    /// anything printed before it, so a progress bar redraw shows immediately.
    static func write(_ text: String) {
        fflush(nil)  // print() buffers in stdio; flush it first so the order holds
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Whether stdout is a terminal (not a file or a pipe).
    static var stdoutIsTerminal: Bool {
        isatty(STDOUT_FILENO) == 1
    }

    /// The terminal's width in columns: `$COLUMNS` when set, else 80.
    static var terminalColumns: Int {
        ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) } ?? 80
    }

    /// Writes `value` to stdout as one line of JSON with sorted keys.
    static func json<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Writes `redml: <message>` to stderr as a single line: something the
    /// user should know that is not a failure (stdout stays data only).
    static func note(_ message: String) {
        error(message)
    }

    /// Writes `redml: <message>` to stderr as a single line.
    static func error(_ message: String) {
        let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("redml: \(oneLine)\n".utf8))
    }
}
