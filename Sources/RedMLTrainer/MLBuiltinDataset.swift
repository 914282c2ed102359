import Foundation

/// A data set bundled with the trainer (UCI, CC BY 4.0; see `Datasets/README.md`),
/// addressed as `builtin:NAME` in a train job's `data` field.
public struct MLBuiltinDataset: Hashable, Sendable, CustomStringConvertible {
    /// The prefix of a builtin reference: `builtin:iris`.
    public static let prefix = "builtin:"

    /// The name after `builtin:`, which is also the bundled file's name without `.csv`.
    public let name: String

    /// Fisher's iris: 150 rows, 4 features, 3 species.
    public static let iris = MLBuiltinDataset(name: "iris", known: ())
    /// Wine cultivars: 178 rows, 13 features, 3 classes.
    public static let wine = MLBuiltinDataset(name: "wine", known: ())
    /// Wisconsin diagnostic breast cancer: 569 rows, 30 features, 2 classes.
    public static let breastCancer = MLBuiltinDataset(name: "breast_cancer", known: ())
    /// Handwritten digits: 1797 rows, 64 pixels, 10 classes.
    public static let digits = MLBuiltinDataset(name: "digits", known: ())

    /// Every bundled data set.
    public static let all: [MLBuiltinDataset] = [.iris, .wine, .breastCancer, .digits]

    private init(name: String, known: Void) { self.name = name }

    /// The bundled data set called `name`, or `nil` if there is none.
    public init?(name: String) {
        guard let found = Self.all.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// `builtin:NAME`.
    public var description: String { Self.prefix + name }

    /// Loads the data set; `label` names the label column (`nil`: the last one).
    public func load(label: String? = nil) throws(MLTrainerError) -> MLDataset {
        try MLDataset(csv: csvData(), label: label, source: description)
    }

    /// The bundled CSV file's bytes.
    public func csvData() throws(MLTrainerError) -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: "csv", subdirectory: "Datasets") else {
            throw MLTrainerError(code: .unreadableFile, message: "the bundled file Datasets/\(name).csv is missing",
                                 source: description)
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw MLTrainerError(code: .unreadableFile, message: "cannot read the bundled file \(url.path)",
                                 source: description, underlying: error)
        }
    }
}
