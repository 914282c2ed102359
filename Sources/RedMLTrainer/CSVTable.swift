import Foundation

/// A CSV document split into a header and records (RFC 4180: commas,
/// double-quoted cells with `""` escapes, LF or CRLF line ends).
///
/// Blank lines are skipped and unquoted cells are trimmed of spaces, so a
/// trailing newline or aligned columns do not count as bad input.
struct CSVTable {
    /// One record and the line it starts on (the header is line 1).
    struct Record {
        var line: Int
        var cells: [String]
    }

    /// The header's cells, trimmed.
    var header: [String]
    /// The records after the header.
    var records: [Record]
    /// What errors call the data (a file name).
    let source: String

    /// Parses `data`; `source` names the file in errors.
    init(_ data: Data, source: String) throws(MLTrainerError) {
        guard let text = String(data: data, encoding: .utf8) else {
            throw MLTrainerError(code: .malformedCSV, message: "\(source) is not UTF-8 text", source: source)
        }
        var parser = Parser(source: source)
        let all = try parser.parse(Array(text.utf8))
        guard let first = all.first else {
            throw MLTrainerError(code: .emptyData, message: "\(source) is empty: expected a header row and data rows",
                                 source: source)
        }
        header = first.cells
        records = Array(all.dropFirst())
        self.source = source
    }

    /// Refuses a header that names a column twice: which of the two is meant cannot be told.
    func requireUniqueHeader() throws(MLTrainerError) {
        var seen: Set<String> = []
        if let duplicate = header.first(where: { !seen.insert($0).inserted }) {
            throw MLTrainerError(code: .duplicateColumn, message: "\(source): the header names column '\(duplicate)' twice",
                                 source: source, row: 1, column: duplicate)
        }
    }

    /// Refuses a table with a header and nothing after it.
    func requireRecords() throws(MLTrainerError) {
        guard records.isEmpty else { return }
        throw MLTrainerError(code: .emptyData, message: "\(source) has a header but no data rows", source: source)
    }

    /// A byte-level state machine; works on UTF-8 because every delimiter is ASCII.
    private struct Parser {
        let source: String
        var records: [Record] = []
        var cells: [String] = []
        var cell: [UInt8] = []
        var quoted = false
        var line = 1
        var recordLine = 1

        init(source: String) { self.source = source }

        mutating func parse(_ bytes: [UInt8]) throws(MLTrainerError) -> [Record] {
            let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n")
            let carriageReturn = UInt8(ascii: "\r")
            var inQuotes = false
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if inQuotes {
                    if byte == quote {
                        if index < bytes.count && bytes[index] == quote {
                            cell.append(quote)
                            index += 1
                        } else {
                            inQuotes = false
                        }
                    } else {
                        if byte == newline { line += 1 }
                        cell.append(byte)
                    }
                    continue
                }
                switch byte {
                case quote:
                    inQuotes = true
                    quoted = true
                    cell.removeAll()  // spaces before an opening quote are not part of the cell
                case comma:
                    endCell()
                case carriageReturn where index < bytes.count && bytes[index] == newline:
                    break  // the LF that follows ends the record
                case newline:
                    endRecord()
                    line += 1
                    recordLine = line
                default:
                    cell.append(byte)
                }
            }
            if inQuotes {
                throw MLTrainerError(code: .malformedCSV,
                                     message: "\(source) line \(recordLine): a quoted cell is never closed",
                                     source: source, row: recordLine)
            }
            endRecord()
            return records
        }

        mutating func endCell() {
            let text = String(decoding: cell, as: UTF8.self)
            cells.append(quoted ? text : text.trimmingCharacters(in: .whitespaces))
            cell.removeAll(keepingCapacity: true)
            quoted = false
        }

        mutating func endRecord() {
            let blank = cells.isEmpty && !quoted && cell.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            if !blank {
                endCell()
                records.append(Record(line: recordLine, cells: cells))
            }
            cells.removeAll(keepingCapacity: true)
            cell.removeAll(keepingCapacity: true)
            quoted = false
        }
    }
}
