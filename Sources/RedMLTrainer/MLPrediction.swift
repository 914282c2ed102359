/// A model's answer for one row: the most likely class and every class's probability.
public struct MLPrediction: Hashable, Sendable {
    /// The most likely class (the first in class order on a tie).
    public var label: String
    /// Its index in ``classes``.
    public var classIndex: Int
    /// The classes, in the model's order.
    public var classes: [String]
    /// One probability per class, in ``classes`` order; they sum to 1.
    public var probabilities: [Double]

    /// The probability of `label`, or `nil` if the model has no such class.
    public func probability(of label: String) -> Double? {
        classes.firstIndex(of: label).map { probabilities[$0] }
    }

    /// The probabilities by class label.
    public var probabilityByClass: [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(classes, probabilities))
    }
}
