import Crypto
import Foundation

/// A numeric classification data set read from CSV: named feature columns,
/// one string label per row, and the SHA-256 of the bytes it was read from.
///
/// The CSV needs a header row. The label column is chosen by name (by
/// default the last column); every other column must hold a finite number in
/// every row. Classes are the distinct labels, sorted, and must number at
/// least two.
///
/// ```swift
/// let iris = try MLDataset.resolve("builtin:iris")
/// let mine = try MLDataset(contentsOf: URL(fileURLWithPath: "data.csv"), label: "species")
/// ```
public struct MLDataset: Hashable, Sendable {
    /// Where the data came from (`builtin:iris`, a file path, or a name given by the caller).
    public var source: String
    /// The feature columns' names, in CSV order.
    public var features: [String]
    /// The label column's name.
    public var labelColumn: String
    /// The distinct labels, sorted.
    public var classes: [String]
    /// One feature vector per row, in ``features`` order.
    public var rows: [[Double]]
    /// Each row's class, as an index into ``classes``.
    public var labels: [Int]
    /// Lowercase hex SHA-256 of the raw bytes the data set was read from.
    public var sha256: String

    /// How many rows the data set has.
    public var count: Int { rows.count }

    /// Reads CSV bytes; `label` names the label column (`nil`: the last column).
    ///
    /// - Throws: ``MLTrainerError`` naming `source`, the line and the column
    ///   for a non-numeric cell, a ragged row, a missing label column, fewer
    ///   than two classes, or no data.
    public init(csv: Data, label: String? = nil, source: String = "CSV data") throws(MLTrainerError) {
        let table = try CSVTable(csv, source: source)
        let header = table.header
        try table.requireUniqueHeader()
        let labelIndex: Int
        if let label {
            guard let index = header.firstIndex(of: label) else {
                throw MLTrainerError(
                    code: .missingLabelColumn,
                    message: "\(source): no label column '\(label)' in the header (columns: \(header.joined(separator: ", ")))",
                    source: source, row: 1, column: label)
            }
            labelIndex = index
        } else {
            labelIndex = header.count - 1
        }
        guard header.count >= 2 else {
            throw MLTrainerError(
                code: .emptyData,
                message: "\(source): the header has \(header.count) column(s); expected at least one feature and a label",
                source: source, row: 1)
        }
        try table.requireRecords()
        let featureIndexes = header.indices.filter { $0 != labelIndex }
        var rows: [[Double]] = []
        var labelTexts: [String] = []
        rows.reserveCapacity(table.records.count)
        for record in table.records {
            guard record.cells.count == header.count else {
                throw MLTrainerError(
                    code: .raggedRow,
                    message: "\(source) line \(record.line): \(record.cells.count) cells, expected \(header.count) like the header",
                    source: source, row: record.line)
            }
            rows.append(try Self.numbers(record, at: featureIndexes, header: header, source: source))
            let text = record.cells[labelIndex]
            guard !text.isEmpty else {
                throw MLTrainerError(
                    code: .nonNumericCell,
                    message: "\(source) line \(record.line), column '\(header[labelIndex])': the label is empty",
                    source: source, row: record.line, column: header[labelIndex])
            }
            labelTexts.append(text)
        }
        let classes = Array(Set(labelTexts)).sorted()
        guard classes.count >= 2 else {
            throw MLTrainerError(
                code: .tooFewClasses,
                message: "\(source): label column '\(header[labelIndex])' has \(classes.count) class (\(classes.joined())); expected at least 2",
                source: source, column: header[labelIndex])
        }
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        self.source = source
        self.features = featureIndexes.map { header[$0] }
        self.labelColumn = header[labelIndex]
        self.classes = classes
        self.rows = rows
        self.labels = labelTexts.map { classIndex[$0]! }
        self.sha256 = SHA256.hash(data: csv).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads a CSV file; `label` names the label column (`nil`: the last column).
    public init(contentsOf file: URL, label: String? = nil) throws(MLTrainerError) {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw MLTrainerError(code: .unreadableFile, message: "cannot read the CSV file \(file.path)",
                                 source: file.path, underlying: error)
        }
        try self.init(csv: data, label: label, source: file.path)
    }

    /// Loads `reference`: `builtin:NAME` for a bundled data set (see
    /// ``MLBuiltinDataset``), anything else as a CSV file path. `label`
    /// names the label column (`nil`: the last column).
    public static func resolve(_ reference: String, label: String? = nil) throws(MLTrainerError) -> MLDataset {
        if reference.hasPrefix(MLBuiltinDataset.prefix) {
            let name = String(reference.dropFirst(MLBuiltinDataset.prefix.count))
            guard let builtin = MLBuiltinDataset(name: name) else {
                throw MLTrainerError(
                    code: .unknownBuiltin,
                    message: "no bundled data set '\(name)'; expected one of \(MLBuiltinDataset.all.map { "builtin:\($0.name)" }.joined(separator: ", "))",
                    source: reference)
            }
            return try builtin.load(label: label)
        }
        return try MLDataset(contentsOf: URL(fileURLWithPath: reference), label: label)
    }

    /// The header row of the CSV data `reference` names (a file path or
    /// `builtin:NAME`), read without the rows after it, or `nil` when the
    /// first line is not a header that can be read alone (over 1 MiB, or a
    /// quoted cell that spans lines): a caller that checks a label column
    /// early then leaves the check to ``resolve(_:label:)``.
    public static func header(of reference: String) -> [String]? {
        let data: Data
        if reference.hasPrefix(MLBuiltinDataset.prefix) {
            guard let builtin = MLBuiltinDataset(name: String(reference.dropFirst(MLBuiltinDataset.prefix.count))),
                let csv = try? builtin.csvData()
            else { return nil }
            data = csv
        } else {
            guard let file = FileHandle(forReadingAtPath: reference) else { return nil }
            defer { try? file.close() }
            guard let start = try? file.read(upToCount: 1 << 20) else { return nil }
            data = start
        }
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return try? CSVTable(data[...newline], source: reference).header
    }

    private static func numbers(
        _ record: CSVTable.Record, at indexes: [Int], header: [String], source: String
    ) throws(MLTrainerError) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(indexes.count)
        for index in indexes {
            let cell = record.cells[index]
            guard let value = Double(cell), value.isFinite else {
                throw MLTrainerError(
                    code: .nonNumericCell,
                    message: "\(source) line \(record.line), column '\(header[index])': '\(cell.prefix(40))' is not a finite number",
                    source: source, row: record.line, column: header[index])
            }
            values.append(value)
        }
        return values
    }
}
