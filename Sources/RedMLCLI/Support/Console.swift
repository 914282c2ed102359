import Foundation

/// Where the commands write: data on stdout, failures on stderr.
enum Console {
    /// Writes one line to stdout.
    static func line(_ text: String = "") {
        print(text)
    }

    /// Writes `value` to stdout as one line of JSON with sorted keys.
    static func json<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Writes `redml: <message>` to stderr as a single line.
    static func error(_ message: String) {
        let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("redml: \(oneLine)\n".utf8))
    }
}
