import Foundation
import RedMLTrainer
import Testing

@Suite("Data sets")
struct DatasetTests {
    @Test("every bundled data set loads with its documented shape")
    func builtinsLoad() throws {
        let expected: [(MLBuiltinDataset, rows: Int, features: Int, classes: Int, label: String)] = [
            (.iris, 150, 4, 3, "species"), (.wine, 178, 13, 3, "cultivar"),
            (.breastCancer, 569, 30, 2, "diagnosis"), (.digits, 1797, 64, 10, "digit"),
        ]
        for (builtin, rows, features, classes, label) in expected {
            let dataset = try MLDataset.resolve("builtin:\(builtin.name)")
            #expect(dataset.count == rows, "\(builtin)")
            #expect(dataset.features.count == features, "\(builtin)")
            #expect(dataset.classes.count == classes, "\(builtin)")
            #expect(dataset.labelColumn == label, "\(builtin)")
            #expect(dataset.classes == dataset.classes.sorted())
            #expect(dataset.source == "builtin:\(builtin.name)")
            #expect(dataset.sha256.count == 64 && dataset.sha256 == dataset.sha256.lowercased())
        }
        #expect(try MLDataset.resolve("builtin:iris").classes == ["setosa", "versicolor", "virginica"])
    }

    @Test("the SHA-256 is of the raw bytes")
    func sha256OfRawBytes() throws {
        let data = csv("a,b,label", "1,2,x", "3,4,y")
        let dataset = try MLDataset(csv: data, label: "label")
        // `printf 'a,b,label\n1,2,x\n3,4,y' | sha256sum`
        #expect(dataset.sha256 == "d24a08b2ba9208ac0b960c5cbf9d7653ebfaae1da52cdc724c140ad1f5bd52e7")
        let same = try MLDataset(csv: data)
        #expect(same.sha256 == dataset.sha256)
        let other = try MLDataset(csv: csv("a,b,label", "1,2,x", "3,5,y"))
        #expect(other.sha256 != dataset.sha256)
    }

    @Test("the label column is chosen by name, anywhere in the header")
    func labelByName() throws {
        let dataset = try MLDataset(csv: csv("kind,x,y", "cat,1,2", "dog,3,4", "\"cat\", 5 ,6", ""), label: "kind")
        #expect(dataset.features == ["x", "y"])
        #expect(dataset.classes == ["cat", "dog"])
        #expect(dataset.rows == [[1, 2], [3, 4], [5, 6]])
        #expect(dataset.labels == [0, 1, 0])
    }

    @Test("quoted cells may hold commas, quotes and line breaks, and CRLF line ends work")
    func quotedCells() throws {
        let text = "x,label\r\n1,\"a, \"\"quoted\"\"\r\nlabel\"\r\n2,b\r\n"
        let dataset = try MLDataset(csv: Data(text.utf8))
        #expect(dataset.classes == ["a, \"quoted\"\r\nlabel", "b"])
        #expect(dataset.rows == [[1], [2]])
    }

    @Test("a non-numeric cell names the file, the line and the column")
    func nonNumericCell() {
        let error = expectTrainerError(.nonNumericCell) {
            try MLDataset(csv: csv("width,height,label", "1,2,a", "3,tall,b"), source: "shapes.csv")
        }
        #expect(error?.row == 3)
        #expect(error?.column == "height")
        #expect(error?.message == "shapes.csv line 3, column 'height': 'tall' is not a finite number")
    }

    @Test("a missing label column lists the columns there are")
    func missingLabel() {
        let error = expectTrainerError(.missingLabelColumn) {
            try MLDataset(csv: csv("a,b", "1,x", "2,y"), label: "class", source: "data.csv")
        }
        #expect(error?.message == "data.csv: no label column 'class' in the header (columns: a, b)")
    }

    @Test("a ragged row names its line and the expected cell count")
    func raggedRow() {
        let error = expectTrainerError(.raggedRow) {
            try MLDataset(csv: csv("a,b,label", "1,2,x", "", "3,y"), source: "data.csv")
        }
        #expect(error?.row == 4)
        #expect(error?.message == "data.csv line 4: 2 cells, expected 3 like the header")
    }

    @Test("a single class is refused")
    func oneClass() {
        let error = expectTrainerError(.tooFewClasses) { try MLDataset(csv: csv("a,label", "1,x", "2,x")) }
        #expect(error?.message.contains("expected at least 2") == true)
    }

    @Test("empty data, a header alone, and an unclosed quote are refused")
    func emptyAndMalformed() {
        expectTrainerError(.emptyData) { try MLDataset(csv: Data()) }
        expectTrainerError(.emptyData) { try MLDataset(csv: csv("a,label", "")) }
        expectTrainerError(.emptyData) { try MLDataset(csv: csv("label", "x", "y")) }
        expectTrainerError(.malformedCSV) { try MLDataset(csv: csv("a,label", "1,\"x")) }
        expectTrainerError(.duplicateColumn) { try MLDataset(csv: csv("a,a,label", "1,2,x")) }
    }

    @Test("unknown builtins and unreadable files are named")
    func resolveErrors() {
        let unknown = expectTrainerError(.unknownBuiltin) { try MLDataset.resolve("builtin:mnist") }
        #expect(unknown?.message.contains("builtin:iris") == true)
        let missing = expectTrainerError(.unreadableFile) { try MLDataset.resolve("/nonexistent/redml/data.csv") }
        #expect(missing?.message.contains("/nonexistent/redml/data.csv") == true)
    }

    @Test("a CSV file path loads like its bytes")
    func fileLoads() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("redml-trainer-\(UUID().uuidString).csv")
        let data = csv("a,label", "1,x", "2,y")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let dataset = try MLDataset.resolve(file.path, label: "label")
        #expect(dataset.source == file.path)
        #expect(dataset.sha256 == (try MLDataset(csv: data)).sha256)
    }

    @Test("the header alone is read from a file or a bundled set; what cannot be read alone is nil")
    func headerAlone() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redml-header-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        #expect(MLDataset.header(of: try file("plain.csv", "a, b ,label\n1,2,x\n")) == ["a", "b", "label"])
        #expect(MLDataset.header(of: try file("crlf.csv", "a,label\r\n1,x\r\n")) == ["a", "label"])
        #expect(MLDataset.header(of: "builtin:iris")?.last == "species")
        #expect(MLDataset.header(of: try file("one-line.csv", "a,label")) == nil)
        #expect(MLDataset.header(of: try file("quoted.csv", "a,\"two\nlines\"\n1,x\n")) == nil)
        #expect(MLDataset.header(of: folder.appendingPathComponent("missing.csv").path) == nil)
        #expect(MLDataset.header(of: "builtin:nosuch") == nil)
    }
}
