extension MLDataset {
    /// The rows a training run with `configuration` holds out for evaluation
    /// (its seed and test fraction), ascending: the rows the trained model never saw.
    public func heldOutRows(_ configuration: MLTrainingConfiguration) -> [Int] {
        StratifiedSplit(labels: labels, classCount: classes.count, testFraction: configuration.testFraction,
                        seed: configuration.seed).test
    }
}
