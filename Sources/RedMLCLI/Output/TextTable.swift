/// Aligned columns for human-readable lists: a header row, then one row per
/// item, each column as wide as its widest cell, separated by two spaces.
struct TextTable {
    /// The column headings.
    let headers: [String]
    /// The rows added so far.
    private(set) var rows: [[String]] = []

    /// A table with these headings.
    init(_ headers: String...) {
        self.init(headers: headers)
    }

    /// A table with these headings.
    init(headers: [String]) {
        self.headers = headers
    }

    /// Adds a row; cells are made one-line, and missing cells are left blank.
    mutating func add(_ cells: String...) {
        add(cells)
    }

    /// Adds a row; cells are made one-line, and missing cells are left blank.
    mutating func add(_ cells: [String]) {
        rows.append(cells.map(DisplayText.oneLine))
    }

    /// The table's lines, trailing spaces trimmed.
    var lines: [String] {
        let all = [headers] + rows
        let widths = headers.indices.map { column in
            all.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0
        }
        return all.map { row in
            let padded = headers.indices.map { column -> String in
                let cell = column < row.count ? row[column] : ""
                return cell + String(repeating: " ", count: widths[column] - cell.count)
            }
            var line = padded.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// Prints the table, or `empty` when it has no rows.
    func print(empty: String) {
        guard !rows.isEmpty else {
            Console.line(empty)
            return
        }
        lines.forEach { Console.line($0) }
    }
}
