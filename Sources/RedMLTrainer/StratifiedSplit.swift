import RedMLCore
/// A train/test split of a data set's row indexes that keeps each class's
/// share: every class puts `round(count × testFraction)` of its rows in the
/// test part (at least one and at most all but one when it has two or more rows).
struct StratifiedSplit: Hashable, Sendable {
    /// Training rows, ascending.
    var train: [Int]
    /// Held-out rows, ascending.
    var test: [Int]

    init(labels: [Int], classCount: Int, testFraction: Double, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var byClass = [[Int]](repeating: [], count: classCount)
        for (row, label) in labels.enumerated() { byClass[label].append(row) }
        var train: [Int] = []
        var test: [Int] = []
        for var rows in byClass {
            generator.shuffle(&rows)
            var held = Int((Double(rows.count) * testFraction).rounded())
            if rows.count >= 2 { held = min(max(held, 1), rows.count - 1) }
            test += rows.prefix(held)
            train += rows.dropFirst(held)
        }
        self.train = train.sorted()
        self.test = test.sorted()
    }
}
