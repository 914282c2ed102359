/// What went wrong while loading data, training, or reading a model, with a
/// stable ``code``, a message naming the file, row, column or field, and the
/// underlying error if any.
public struct MLTrainerError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable identifier of the kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// Creates a code.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The data has no header or no data rows.
        public static let emptyData = Code(rawValue: "empty_data")
        /// The CSV text is malformed (an unterminated quote, bytes that are not UTF-8).
        public static let malformedCSV = Code(rawValue: "malformed_csv")
        /// A row has more or fewer cells than the header.
        public static let raggedRow = Code(rawValue: "ragged_row")
        /// A feature cell is not a finite number.
        public static let nonNumericCell = Code(rawValue: "non_numeric_cell")
        /// The header has no column with the label's name.
        public static let missingLabelColumn = Code(rawValue: "missing_label_column")
        /// The header names the same column twice.
        public static let duplicateColumn = Code(rawValue: "duplicate_column")
        /// The label column has fewer than two distinct classes.
        public static let tooFewClasses = Code(rawValue: "too_few_classes")
        /// No class has the two rows needed to hold one out for evaluation.
        public static let tooFewRows = Code(rawValue: "too_few_rows")
        /// A column the model needs is not in the CSV given for prediction.
        public static let missingFeatureColumn = Code(rawValue: "missing_feature_column")
        /// A feature vector has the wrong length.
        public static let featureCountMismatch = Code(rawValue: "feature_count_mismatch")
        /// The file could not be read.
        public static let unreadableFile = Code(rawValue: "unreadable_file")
        /// `builtin:` names a data set that is not bundled.
        public static let unknownBuiltin = Code(rawValue: "unknown_builtin")
        /// A train job's spec is missing a field, has an unknown one, or one of the wrong type.
        public static let invalidSpec = Code(rawValue: "invalid_spec")
        /// A training setting is out of range.
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")
        /// A checkpoint cannot be resumed by this data and configuration.
        public static let checkpointMismatch = Code(rawValue: "checkpoint_mismatch")
        /// Weights are not a valid `redml.softmax.v1` document.
        public static let invalidWeights = Code(rawValue: "invalid_weights")
        /// Training produced a non-finite loss or weight (a learning rate far too high).
        public static let diverged = Code(rawValue: "diverged")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable message naming what is wrong and what was expected.
    public var message: String
    /// The file or data set concerned, if any.
    public var source: String?
    /// The 1-based line of the CSV (the header is line 1), if the failure is about one row.
    public var row: Int?
    /// The column concerned, by name, if any.
    public var column: String?
    /// The error behind this one, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(
        code: Code, message: String, source: String? = nil, row: Int? = nil, column: String? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.source = source
        self.row = row
        self.column = column
        self.underlying = underlying
    }

    public var description: String {
        underlying.map { "\(message) (\($0))" } ?? message
    }
}
