import Foundation
import RedMLCore

/// A trained multinomial logistic regression (softmax) classifier, and its
/// weights format, `redml.softmax.v1`.
///
/// ## Weights format `redml.softmax.v1`
///
/// The weights registered by the `train` job are one UTF-8 JSON object:
///
/// ```json
/// {"format":"redml.softmax.v1",
///  "features":["sepal_length_cm", "..."],   // input columns, by name, in order (F)
///  "classes":["setosa", "..."],             // labels, sorted (C)
///  "mean":[5.84, "..."], "std":[0.83, "..."],  // per feature (F each)
///  "weights":[[0.1, "..."], "..."],         // C rows of F numbers
///  "bias":[0.2, "..."]}                     // C numbers
/// ```
///
/// To score a row `x` (values in `features` order): standardise it,
/// `z[f] = (x[f] - mean[f]) / std[f]`; compute one logit per class,
/// `logit[c] = bias[c] + Σ_f weights[c][f] × z[f]`; the probabilities are
/// `softmax(logit)` and the prediction is the class with the highest one
/// (the first in `classes` order on a tie). A feature that was constant in
/// the training data has `std` 1, so it contributes nothing. Readers must
/// reject another `format` value; writers emit the keys in the order above.
public struct MLSoftmaxModel: Hashable, Sendable, Codable {
    /// The format identifier this type reads and writes.
    public static let format = "redml.softmax.v1"

    /// Input columns, by name, in the order ``predict(features:)`` expects.
    public var features: [String]
    /// Class labels, sorted.
    public var classes: [String]
    /// Per-feature mean of the training rows.
    public var mean: [Double]
    /// Per-feature standard deviation of the training rows (1 for constant features).
    public var std: [Double]
    /// One row of per-feature weights for each class.
    public var weights: [[Double]]
    /// One bias per class.
    public var bias: [Double]

    /// Creates a model, checking that every array's shape matches.
    public init(
        features: [String], classes: [String], mean: [Double], std: [Double], weights: [[Double]], bias: [Double]
    ) throws(MLTrainerError) {
        self.features = features
        self.classes = classes
        self.mean = mean
        self.std = std
        self.weights = weights
        self.bias = bias
        try validate()
    }

    private enum CodingKeys: String, CodingKey {
        case format, features, classes, mean, std, weights, bias
    }

    /// Decodes a `redml.softmax.v1` object; any other `format` is refused.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let format = try container.decode(String.self, forKey: .format)
        guard format == Self.format else {
            throw MLTrainerError(code: .invalidWeights,
                                 message: "weights have format '\(format)'; expected '\(Self.format)'")
        }
        features = try container.decode([String].self, forKey: .features)
        classes = try container.decode([String].self, forKey: .classes)
        mean = try container.decode([Double].self, forKey: .mean)
        std = try container.decode([Double].self, forKey: .std)
        weights = try container.decode([[Double]].self, forKey: .weights)
        bias = try container.decode([Double].self, forKey: .bias)
        try validate()
    }

    /// Encodes the `redml.softmax.v1` object, keys in the documented order.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.format, forKey: .format)
        try container.encode(features, forKey: .features)
        try container.encode(classes, forKey: .classes)
        try container.encode(mean, forKey: .mean)
        try container.encode(std, forKey: .std)
        try container.encode(weights, forKey: .weights)
        try container.encode(bias, forKey: .bias)
    }

    /// Reads weights in the `redml.softmax.v1` format.
    ///
    /// - Throws: ``MLTrainerError`` with code `invalid_weights` naming what is wrong.
    public init(decoding data: Data) throws(MLTrainerError) {
        do {
            self = try JSONDecoder().decode(MLSoftmaxModel.self, from: data)
        } catch let error as MLTrainerError {
            throw error
        } catch {
            throw MLTrainerError(
                code: .invalidWeights,
                message: "weights are not a \(Self.format) JSON document: \(Self.describe(error))",
                underlying: error)
        }
    }

    /// The weights in the `redml.softmax.v1` format: compact JSON, keys in
    /// the documented order, so equal models give equal bytes (and one blob).
    public func encoded() -> Data {
        var writer = MLJSONWriter()
        writer.object { json in
            json.key("format")
            json.string(Self.format)
            json.key("features")
            json.array { array in for name in features { array.string(name) } }
            json.key("classes")
            json.array { array in for name in classes { array.string(name) } }
            json.key("mean")
            Self.write(mean, to: &json)
            json.key("std")
            Self.write(std, to: &json)
            json.key("weights")
            json.array { array in for row in weights { Self.write(row, to: &array) } }
            json.key("bias")
            Self.write(bias, to: &json)
        }
        return Data(writer.text.utf8)
    }

    private static func write(_ numbers: [Double], to writer: inout MLJSONWriter) {
        writer.array { array in for number in numbers { array.double(number) } }
    }

    private func validate() throws(MLTrainerError) {
        func fail(_ message: String) -> MLTrainerError {
            MLTrainerError(code: .invalidWeights, message: "invalid \(Self.format) weights: \(message)")
        }
        guard !features.isEmpty else { throw fail("no features") }
        guard classes.count >= 2 else { throw fail("\(classes.count) classes; expected at least 2") }
        guard mean.count == features.count, std.count == features.count else {
            throw fail("mean has \(mean.count) and std \(std.count) values; expected \(features.count), one per feature")
        }
        guard weights.count == classes.count, bias.count == classes.count else {
            throw fail("weights have \(weights.count) rows and bias \(bias.count) values; expected \(classes.count), one per class")
        }
        if let row = weights.firstIndex(where: { $0.count != features.count }) {
            throw fail("weights row \(row) (class '\(classes[row])') has \(weights[row].count) values; expected \(features.count)")
        }
        guard std.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw fail("std values must be positive and finite") }
        let numbers = mean + bias + weights.joined()
        guard numbers.allSatisfy(\.isFinite) else { throw fail("a mean, weight or bias is not finite") }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: "\(error)"
        }
    }
}
