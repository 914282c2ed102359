import RedMLCore

/// Where a training run stands after some epochs: everything needed to
/// continue it so that it ends exactly as an uninterrupted run would.
///
/// Saved as the job's checkpoint (``json``):
/// `{"format":"redml.softmax.checkpoint.v1", "epoch", "data_sha256", "seed",
/// "test_fraction", "learning_rate", "l2", "features", "classes",
/// "parameters", "adam_m", "adam_v"}`, where `parameters` holds the weights
/// row-major (one row of `features` numbers per class) then the biases, and
/// `adam_m`/`adam_v` are Adam's moments in the same layout. Numbers are
/// written in Swift's shortest round-tripping form, so a checkpoint read back
/// from JSON text resumes bit for bit.
public struct MLTrainingCheckpoint: Hashable, Sendable {
    /// The checkpoint format identifier.
    public static let format = "redml.softmax.checkpoint.v1"

    /// Epochs completed.
    public var epoch: Int
    /// SHA-256 of the training data; resuming on other data is refused.
    public var dataSHA256: String
    /// The split's seed.
    public var seed: UInt64
    /// The held-out share.
    public var testFraction: Double
    /// Adam's step size.
    public var learningRate: Double
    /// The L2 penalty actually used.
    public var l2: Double
    /// Feature count.
    public var featureCount: Int
    /// Class count.
    public var classCount: Int
    /// Weights (row-major, one row per class) then biases.
    public var parameters: [Double]
    /// Adam's first moment, same layout.
    public var firstMoment: [Double]
    /// Adam's second moment, same layout.
    public var secondMoment: [Double]

    init(
        epoch: Int, dataSHA256: String, seed: UInt64, testFraction: Double, learningRate: Double, l2: Double,
        featureCount: Int, classCount: Int, parameters: [Double], firstMoment: [Double], secondMoment: [Double]
    ) {
        self.epoch = epoch
        self.dataSHA256 = dataSHA256
        self.seed = seed
        self.testFraction = testFraction
        self.learningRate = learningRate
        self.l2 = l2
        self.featureCount = featureCount
        self.classCount = classCount
        self.parameters = parameters
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    /// The checkpoint as JSON, for ``MLJobHandle/checkpoint(_:progress:)``.
    public var json: MLJSONObject {
        [
            "format": .string(Self.format),
            "epoch": .int(Int64(epoch)),
            "data_sha256": .string(dataSHA256),
            "seed": .int(Int64(bitPattern: seed)),
            "test_fraction": .double(testFraction),
            "learning_rate": .double(learningRate),
            "l2": .double(l2),
            "features": .int(Int64(featureCount)),
            "classes": .int(Int64(classCount)),
            "parameters": .array(parameters.map(MLJSONValue.double)),
            "adam_m": .array(firstMoment.map(MLJSONValue.double)),
            "adam_v": .array(secondMoment.map(MLJSONValue.double)),
        ]
    }

    /// Reads a checkpoint saved by ``json``.
    ///
    /// - Throws: ``MLTrainerError`` with code `checkpoint_mismatch` naming the
    ///   missing or malformed field.
    public init(json: MLJSONObject) throws(MLTrainerError) {
        func fail(_ message: String) -> MLTrainerError {
            MLTrainerError(code: .checkpointMismatch, message: "the checkpoint is not a \(Self.format) checkpoint: \(message)")
        }
        func integer(_ key: String) throws(MLTrainerError) -> Int64 {
            guard let value = json[key]?.intValue else { throw fail("'\(key)' must be an integer") }
            return value
        }
        func number(_ key: String) throws(MLTrainerError) -> Double {
            guard let value = json[key]?.doubleValue else { throw fail("'\(key)' must be a number") }
            return value
        }
        func numbers(_ key: String, count: Int) throws(MLTrainerError) -> [Double] {
            guard case .array(let values)? = json[key] else { throw fail("'\(key)' must be an array of numbers") }
            let numbers = values.compactMap(\.doubleValue)
            guard numbers.count == values.count, numbers.count == count else {
                throw fail("'\(key)' must hold \(count) numbers, got \(values.count) values")
            }
            return numbers
        }
        guard case .string(Self.format)? = json["format"] else {
            throw fail("'format' is \(json["format"]?.jsonText ?? "missing"), expected \"\(Self.format)\"")
        }
        guard case .string(let sha)? = json["data_sha256"] else { throw fail("'data_sha256' must be a string") }
        epoch = Int(try integer("epoch"))
        dataSHA256 = sha
        seed = UInt64(bitPattern: try integer("seed"))
        testFraction = try number("test_fraction")
        learningRate = try number("learning_rate")
        l2 = try number("l2")
        featureCount = Int(try integer("features"))
        classCount = Int(try integer("classes"))
        guard epoch >= 0, featureCount >= 1, classCount >= 2 else {
            throw fail("epoch \(epoch), \(featureCount) features and \(classCount) classes are out of range")
        }
        let count = classCount * (featureCount + 1)
        parameters = try numbers("parameters", count: count)
        firstMoment = try numbers("adam_m", count: count)
        secondMoment = try numbers("adam_v", count: count)
    }
}
