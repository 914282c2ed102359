import Foundation
import RedML

/// Parses `--run-at`: an ISO 8601 time, a delay from now, or epoch milliseconds.
enum RunAtTime {
    /// The forms, as the help text and error messages show them.
    static let forms = """
        an ISO 8601 time with a zone (2026-12-01T09:30:00Z, 2026-12-01T10:30:00.250+01:00), \
        a delay from now (+30s, +5m, +2h, +1d, +500ms), or milliseconds since 1970 (1795000000000)
        """

    /// The time `text` names, relative delays counted from `now`.
    ///
    /// - Throws: ``CLIError`` naming the text and the accepted forms.
    static func parse(_ text: String, now: Date) throws -> Date {
        let text = text.trimmingCharacters(in: .whitespaces)
        let date = try time(text, now: now)
        // The queue takes 1970…9999 only, and names a time past 9999 as `<description unavailable>`.
        guard (0...MLJobQueue.latestRunAtSeconds).contains(date.timeIntervalSince1970) else {
            throw CLIError.invalidArgument("--run-at '\(DisplayText.oneLine(String(text.prefix(80))))' is not between 1970 and 9999; "
                + "pass a time in that range, such as +5m")
        }
        return date
    }

    /// The time `text` names, in any range.
    private static func time(_ text: String, now: Date) throws -> Date {
        if text.hasPrefix("+") {
            return now.addingTimeInterval(try delay(String(text.dropFirst()), original: text))
        }
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigitCharacter) {
            guard let milliseconds = Int64(text) else { throw invalid(text) }
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        // The default style also reads fractional seconds and +01:00 or +0100 offsets.
        guard let date = try? Date.ISO8601FormatStyle().parse(text) else { throw invalid(text) }
        return date
    }

    /// Seconds in a delay such as `30s` or `500ms`.
    private static func delay(_ text: String, original: String) throws -> TimeInterval {
        let digits = text.prefix(while: \.isASCIIDigitCharacter)
        let unit = text.dropFirst(digits.count)
        let scale: Double? = switch unit {
        case "ms": 0.001
        case "s": 1
        case "m": 60
        case "h": 3_600
        case "d": 86_400
        default: nil
        }
        guard let scale, let amount = Int64(digits), amount <= 10_000_000_000 else { throw invalid(original) }
        return Double(amount) * scale
    }

    private static func invalid(_ text: String) -> CLIError {
        CLIError.invalidArgument("--run-at '\(DisplayText.oneLine(String(text.prefix(80))))' is not a time; pass \(forms)")
    }
}

extension Character {
    /// Whether this is one of `0`…`9` (not any Unicode digit).
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
