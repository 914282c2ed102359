import RedMLCore
import RedMLQueue

/// What one stdout line of an external program means (see ``MLExternalHandler`` for the protocol).
enum ProgramLine: Equatable, Sendable {
    /// `progress N`: N percent done.
    case progress(Double)
    /// `checkpoint {...}`: state to save and resume from.
    case checkpoint(MLJSONObject)
    /// Any other non-empty line: output, or the metrics if it is the last one.
    case text(OutputLine)
    /// An empty or all-blank line.
    case blank

    /// Reads a line; a `progress` or `checkpoint` line that is malformed fails the job.
    static func parse(_ line: OutputLine, lineLimit: Int) throws(MLJobFailure) -> ProgramLine {
        let text = line.text.trimmingBlanks
        guard !text.isEmpty else { return .blank }
        let (word, argument) = text.splitAtFirstBlank
        switch word {
        case "progress":
            guard let value = Double(argument), value.isFinite else {
                throw MLJobFailure("command wrote '\(text.prefix(200))': 'progress' must be followed by a number from 0 to 100")
            }
            return .progress(value)
        case "checkpoint":
            guard !line.truncated else {
                throw MLJobFailure("command wrote a checkpoint line longer than \(lineLimit) bytes")
            }
            do {
                return .checkpoint(try MLJSONValue.parseObject(argument, field: "checkpoint"))
            } catch {
                throw MLJobFailure(
                    "command wrote '\(text.prefix(200))': 'checkpoint' must be followed by a JSON object on the same line (\(error.reason))")
            }
        default:
            return .text(OutputLine(text: text, truncated: line.truncated))
        }
    }

    /// The metrics in the last text line of a program that exited 0; `{}` when it wrote none.
    static func metrics(from last: OutputLine?, lineLimit: Int) throws(MLJobFailure) -> MLJSONObject {
        guard let last else { return [:] }
        guard !last.truncated else {
            throw MLJobFailure("the last line of the command's stdout, which must be the metrics JSON object, is longer than \(lineLimit) bytes")
        }
        do {
            return try MLJSONValue.parseObject(last.text, field: "metrics")
        } catch {
            throw MLJobFailure(
                "the last line of the command's stdout must be the metrics JSON object, got '\(last.text.prefix(200))' (\(error.reason))")
        }
    }
}

extension String {
    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
    }

    /// Without leading and trailing spaces, tabs and line breaks (`\r` from Windows-style output included).
    fileprivate var trimmingBlanks: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !Self.isBlank($0) }),
            let last = scalars.lastIndex(where: { !Self.isBlank($0) })
        else { return "" }
        return String(scalars[first...last])
    }

    /// The first word and the rest after the blanks that follow it.
    fileprivate var splitAtFirstBlank: (word: Substring, rest: String) {
        guard let blank = unicodeScalars.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (self[...], "") }
        return (self[..<blank], String(self[blank...]).trimmingBlanks)
    }
}
