/// Finds where JSON text first goes wrong, so that bad JSON (a `--spec`
/// argument, a request body) can be reported with a line and column instead
/// of Foundation's "the data isn't in the correct format".
///
/// It checks syntax (RFC 8259), and also refuses half of a UTF-16 pair
/// alone, which that grammar allows but which stands for no character; the
/// library's parser still does the parsing. Positions count Unicode characters from 1.
package struct MLJSONSyntaxCheck {
    /// Where and why the text is not JSON.
    package struct Problem: Equatable, CustomStringConvertible {
        /// 1-based line.
        package var line: Int
        /// 1-based column (in characters) within the line.
        package var column: Int
        /// What was expected or found there.
        package var reason: String

        package var description: String { "\(reason) at line \(line), column \(column)" }
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0

    private init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    /// The first syntax error in `text`, or `nil` when it is valid JSON.
    package static func firstProblem(in text: String) -> Problem? {
        var check = MLJSONSyntaxCheck(text)
        do throws(Problem) {
            check.skipSpace()
            try check.value(depth: 0)
            check.skipSpace()
            if check.index < check.scalars.count { throw check.problem("unexpected \(check.current) after the JSON value") }
            return nil
        } catch {
            return error
        }
    }

    private var current: String {
        index < scalars.count ? "'\(scalars[index].escaped(asASCII: true))'" : "end of text"
    }

    private func problem(_ reason: String) -> Problem {
        var line = 1
        var column = 1
        for scalar in scalars[..<min(index, scalars.count)] {
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return Problem(line: line, column: column, reason: reason)
    }

    private mutating func skipSpace() {
        while index < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[index]) { index += 1 }
    }

    private mutating func expect(_ scalar: Unicode.Scalar, _ what: String) throws(Problem) {
        guard index < scalars.count, scalars[index] == scalar else { throw problem("expected \(what) but found \(current)") }
        index += 1
    }

    private mutating func value(depth: Int) throws(Problem) {
        guard depth < 512 else { throw problem("nesting deeper than 512 levels") }
        guard index < scalars.count else { throw problem("expected a value but found end of text") }
        switch scalars[index] {
        case "{": try object(depth: depth)
        case "[": try array(depth: depth)
        case "\"": try string()
        case "t": try word("true")
        case "f": try word("false")
        case "n": try word("null")
        case "-", "0"..."9": try number()
        case let scalar where scalar.properties.isAlphabetic: throw notAValue()
        default: throw problem("expected a value (object, array, string, number, true, false or null) but found \(current)")
        }
    }

    private mutating func object(depth: Int) throws(Problem) {
        // Keys as the parsed dictionary compares them (Swift strings): a second one would silently replace the first.
        var keys = Set<String>()
        try members(closing: "}") { (check: inout Self) throws(Problem) in
            guard check.index < check.scalars.count, check.scalars[check.index] == "\"" else {
                throw check.problem("expected a \"quoted\" key but found \(check.current)")
            }
            let keyStart = check.index
            try check.string()
            let key = Self.decodedString(check.scalars[(keyStart + 1)..<(check.index - 1)])
            guard keys.insert(key).inserted else {
                check.index = keyStart  // point at the second one
                throw check.problem("duplicate key \"\(key)\" in an object")
            }
            check.skipSpace()
            try check.expect(":", "':' after the key")
            check.skipSpace()
            try check.value(depth: depth + 1)
        }
    }

    private mutating func array(depth: Int) throws(Problem) {
        try members(closing: "]") { (check: inout Self) throws(Problem) in try check.value(depth: depth + 1) }
    }

    /// The comma-separated members of an object or array, from its opening
    /// bracket through `closing`, each read by `member`.
    private mutating func members(
        closing: Unicode.Scalar, _ member: (inout Self) throws(Problem) -> Void
    ) throws(Problem) {
        index += 1
        skipSpace()
        if index < scalars.count, scalars[index] == closing {
            index += 1
            return
        }
        while true {
            skipSpace()
            try member(&self)
            skipSpace()
            if index < scalars.count, scalars[index] == "," {
                index += 1
                continue
            }
            try expect(closing, "',' or '\(closing)'")
            return
        }
    }

    private mutating func string() throws(Problem) {
        index += 1
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "\"":
                index += 1
                return
            case "\\":
                index += 1
                guard index < scalars.count else { break }
                if scalars[index] == "u" {
                    let escapeStart = index - 1
                    let unit = try hexUnit()
                    if (0xD800...0xDBFF).contains(unit) {
                        // A high surrogate stands for half a character: the low half must follow.
                        guard index + 2 < scalars.count, scalars[index + 1] == "\\", scalars[index + 2] == "u" else {
                            throw loneSurrogate(unit, escapedAt: escapeStart)
                        }
                        index += 2
                        guard (0xDC00...0xDFFF).contains(try hexUnit()) else {
                            throw loneSurrogate(unit, escapedAt: escapeStart)
                        }
                    } else if (0xDC00...0xDFFF).contains(unit) {
                        throw loneSurrogate(unit, escapedAt: escapeStart)
                    }
                } else if !"\"\\/bfnrt".unicodeScalars.contains(scalars[index]) {
                    throw problem("invalid escape \\\(scalars[index].escaped(asASCII: true)) in a string")
                }
                index += 1
            case "\u{0}"..."\u{1F}":
                throw problem("control character in a string (escape it)")
            default:
                index += 1
            }
        }
        throw problem("unterminated string")
    }

    /// Reads the 4 hex digits after `\u`, leaving `index` on the last one.
    private mutating func hexUnit() throws(Problem) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            index += 1
            guard index < scalars.count, scalars[index].properties.isASCIIHexDigit,
                let digit = UInt16(String(scalars[index]), radix: 16)
            else {
                throw problem("expected 4 hex digits after \\u")
            }
            unit = unit << 4 | digit
        }
        return unit
    }

    /// The word written where a value should be (`nope`, `NaN`, `-Infinity`),
    /// named as written; the problem points at its start.
    private func notAValue() -> Problem {
        var end = index
        if end < scalars.count, scalars[end] == "-" { end += 1 }
        while end < scalars.count, end - index < 20, scalars[end].properties.isAlphabetic { end += 1 }
        let found = String(String.UnicodeScalarView(scalars[index..<end]))
        let bare = found.lowercased().trimmingPrefix("-")
        let hint = ["nan", "infinity", "inf"].contains(String(bare))
            ? "JSON has no NaN or infinity" : "true, false, null, a number, a \"string\", an array or an object"
        return problem("'\(found)' is not a JSON value (\(hint))")
    }

    /// Half of a UTF-16 pair without its other half, which stands for no
    /// character; the problem points at its escape.
    private mutating func loneSurrogate(_ unit: UInt16, escapedAt start: Int) -> Problem {
        index = start
        return problem("lone UTF-16 surrogate \\u\(Self.hex(unit)) in a string (not a character)")
    }

    private static func hex(_ unit: UInt16) -> String {
        let digits = String(unit, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// The text of a string's contents (between its quotes), already checked, with its escapes resolved.
    private static func decodedString(_ contents: ArraySlice<Unicode.Scalar>) -> String {
        var units: [UInt16] = []
        var index = contents.startIndex
        while index < contents.endIndex {
            let scalar = contents[index]
            index += 1
            guard scalar == "\\" else {
                units.append(contentsOf: scalar.utf16)
                continue
            }
            let escape = contents[index]
            index += 1
            switch escape {
            case "b": units.append(0x08)
            case "f": units.append(0x0C)
            case "n": units.append(0x0A)
            case "r": units.append(0x0D)
            case "t": units.append(0x09)
            case "u":
                let hex = String(String.UnicodeScalarView(contents[index..<(index + 4)]))
                units.append(UInt16(hex, radix: 16) ?? 0xFFFD)
                index += 4
            default: units.append(contentsOf: escape.utf16)  // \" \\ \/
            }
        }
        return String(decoding: units, as: UTF16.self)
    }

    private mutating func word(_ word: String) throws(Problem) {
        let start = index
        for expected in word.unicodeScalars {
            guard index < scalars.count, scalars[index] == expected else {
                index = start
                throw notAValue()
            }
            index += 1
        }
    }

    private mutating func number() throws(Problem) {
        if scalars[index] == "-" {
            if index + 1 < scalars.count, scalars[index + 1].properties.isAlphabetic { throw notAValue() }  // -Infinity
            index += 1
        }
        try digits("a digit")
        if index < scalars.count, scalars[index] == "." {
            index += 1
            try digits("a digit after '.'")
        }
        if index < scalars.count, scalars[index] == "e" || scalars[index] == "E" {
            index += 1
            if index < scalars.count, scalars[index] == "+" || scalars[index] == "-" { index += 1 }
            try digits("a digit in the exponent")
        }
    }

    private mutating func digits(_ what: String) throws(Problem) {
        let start = index
        while index < scalars.count, ("0"..."9").contains(scalars[index]) { index += 1 }
        guard index > start else { throw problem("expected \(what) but found \(current)") }
    }
}

extension MLJSONSyntaxCheck.Problem: Error {}
