import Foundation
import RedML

/// Formatting shared by the human-readable output.
enum DisplayText {
    /// `text` on one line with every control character (newlines, escapes,
    /// carriage returns) replaced by a space, so that stored strings cannot
    /// break a table or draw on the terminal.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        }))
    }

    /// `0:07`, `12:03`, `1:02:03`: minutes and seconds, hours when needed.
    static func duration(_ duration: Duration) -> String {
        let total = max(0, duration.components.seconds)
        let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60)
        let twoDigits = { (value: Int64) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(seconds))" : "\(minutes):\(twoDigits(seconds))"
    }

    /// An epoch-milliseconds time as ISO 8601 UTC to the second: `2026-11-29T08:45:46Z`.
    static func time(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(.iso8601)
    }

    /// An optional time, or `-`.
    static func time(_ milliseconds: Int64?) -> String {
        milliseconds.map { time($0) } ?? "-"
    }

    /// A JSON object as `key=value` pairs in key order, cut to `limit` characters: `accuracy=0.97 loss=0.1`.
    static func summary(_ object: MLJSONObject, limit: Int = 48) -> String {
        guard !object.isEmpty else { return "-" }
        let text = object.keys.sorted().map { "\($0)=\(value(object[$0]!))" }.joined(separator: " ")
        return oneLine(text.count > limit ? String(text.prefix(limit - 1)) + "…" : text)
    }

    /// A JSON value compactly: numbers with up to four significant digits, strings bare.
    static func value(_ value: MLJSONValue) -> String {
        switch value {
        case .string(let text): text
        case .double(let number): String(format: "%.4g", number)
        default: value.jsonText
        }
    }

    /// A progress percentage: `42%`, `99.5%`.
    static func percent(_ progress: Double) -> String {
        progress == progress.rounded() ? "\(Int(progress))%" : String(format: "%.1f%%", progress)
    }

    /// The first `count` characters of a SHA-256, for tables.
    static func shortHash(_ sha256: String, _ count: Int = 12) -> String {
        String(sha256.prefix(count))
    }
}
