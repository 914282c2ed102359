import RedMLCore

/// The spec of a `train` job, as submitted in ``MLJobSubmission/spec``; the
/// job's target is the model to register a version of.
///
/// | field | type | default | meaning |
/// |---|---|---|---|
/// | `data` | string | required | `builtin:iris` (also `wine`, `breast_cancer`, `digits`) or a CSV file path on the worker |
/// | `label` | string | the last column | the label column's name |
/// | `epochs` | integer | 200 | passes over the training rows |
/// | `learning_rate` | number | 0.1 | Adam's step size |
/// | `l2` | number | 1 / training rows | L2 penalty on the weights |
/// | `seed` | integer ≥ 0 | 42 | seeds the stratified split |
/// | `test_fraction` | number in (0, 1) | 0.2 | share of each class held out |
/// | `checkpoint_every` | integer ≥ 1 | 10 | epochs between checkpoints |
/// | `activate` | boolean | true | whether the new version becomes active |
///
/// Any other field is refused, so a misspelt setting fails the job instead of being ignored.
public struct MLTrainSpec: Hashable, Sendable {
    /// The spec's field names.
    public static let fields: [String] = [
        "data", "label", "epochs", "learning_rate", "l2", "seed", "test_fraction", "checkpoint_every", "activate",
    ]

    /// `builtin:NAME` or a CSV path.
    public var data: String
    /// The label column, or `nil` for the last column.
    public var label: String?
    /// The training settings.
    public var configuration: MLTrainingConfiguration
    /// Whether the registered version becomes active.
    public var activate: Bool

    /// Creates a spec.
    public init(
        data: String, label: String? = nil, configuration: MLTrainingConfiguration = MLTrainingConfiguration(),
        activate: Bool = true
    ) {
        self.data = data
        self.label = label
        self.configuration = configuration
        self.activate = activate
    }

    /// Reads a job spec.
    ///
    /// - Throws: ``MLTrainerError`` with code `invalid_spec` naming the field
    ///   and what was expected, or `invalid_configuration` for a setting out of range.
    public init(json: MLJSONObject) throws(MLTrainerError) {
        if let unknown = json.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw Self.invalid(unknown, "is not a train spec field; expected one of \(Self.fields.joined(separator: ", "))")
        }
        guard case .string(let data)? = json["data"], !data.isEmpty else {
            throw Self.invalid("data", "must be a non-empty string such as \"builtin:iris\" or a CSV path, got \(Self.show(json["data"]))")
        }
        self.data = data
        switch json["label"] {
        case nil, .null?: label = nil
        case .string(let name)? where !name.isEmpty: label = name
        case let other: throw Self.invalid("label", "must be a column name, got \(Self.show(other))")
        }
        var configuration = MLTrainingConfiguration()
        if let epochs = try Self.integer(json, "epochs") { configuration.epochs = epochs }
        if let rate = try Self.number(json, "learning_rate") { configuration.learningRate = rate }
        if let l2 = try Self.number(json, "l2") { configuration.l2 = l2 }
        if let seed = try Self.integer(json, "seed") {
            guard seed >= 0 else { throw Self.invalid("seed", "must be zero or positive, got \(seed)") }
            configuration.seed = UInt64(seed)
        }
        if let fraction = try Self.number(json, "test_fraction") { configuration.testFraction = fraction }
        if let every = try Self.integer(json, "checkpoint_every") { configuration.checkpointEvery = every }
        try configuration.validate()
        self.configuration = configuration
        switch json["activate"] {
        case nil, .null?: activate = true
        case .bool(let value)?: activate = value
        case let other: throw Self.invalid("activate", "must be true or false, got \(Self.show(other))")
        }
    }

    /// The spec as job JSON; settings left at their defaults are omitted.
    public var json: MLJSONObject {
        let defaults = MLTrainingConfiguration()
        var json: MLJSONObject = ["data": .string(data)]
        if let label { json["label"] = .string(label) }
        if configuration.epochs != defaults.epochs { json["epochs"] = .int(Int64(configuration.epochs)) }
        if configuration.learningRate != defaults.learningRate { json["learning_rate"] = .double(configuration.learningRate) }
        if let l2 = configuration.l2 { json["l2"] = .double(l2) }
        if configuration.seed != defaults.seed { json["seed"] = .int(Int64(bitPattern: configuration.seed)) }
        if configuration.testFraction != defaults.testFraction { json["test_fraction"] = .double(configuration.testFraction) }
        if configuration.checkpointEvery != defaults.checkpointEvery {
            json["checkpoint_every"] = .int(Int64(configuration.checkpointEvery))
        }
        if !activate { json["activate"] = false }
        return json
    }

    private static func integer(_ json: MLJSONObject, _ field: String) throws(MLTrainerError) -> Int? {
        guard let value = json[field], value != .null else { return nil }
        guard let integer = value.intValue, let int = Int(exactly: integer) else {
            throw invalid(field, "must be a whole number, got \(show(value))")
        }
        return int
    }

    private static func number(_ json: MLJSONObject, _ field: String) throws(MLTrainerError) -> Double? {
        guard let value = json[field], value != .null else { return nil }
        guard let number = value.doubleValue else { throw invalid(field, "must be a number, got \(show(value))") }
        return number
    }

    private static func invalid(_ field: String, _ message: String) -> MLTrainerError {
        MLTrainerError(code: .invalidSpec, message: "spec field '\(field)' \(message)", column: field)
    }

    private static func show(_ value: MLJSONValue?) -> String {
        guard let value else { return "nothing" }
        return String(value.jsonText.prefix(60))
    }
}
