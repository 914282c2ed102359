/// Per-feature mean and standard deviation of the training rows, and the
/// standardised copy of a set of rows.
struct Standardizer {
    var mean: [Double]
    /// Population standard deviation; 1 for a constant feature, so it maps to 0 instead of dividing by 0.
    var std: [Double]

    init(rows: [[Double]], featureCount: Int) {
        let count = Double(max(1, rows.count))
        var mean = [Double](repeating: 0, count: featureCount)
        for row in rows {
            for f in 0..<featureCount { mean[f] += row[f] }
        }
        for f in 0..<featureCount { mean[f] /= count }
        var variance = [Double](repeating: 0, count: featureCount)
        for row in rows {
            for f in 0..<featureCount {
                let deviation = row[f] - mean[f]
                variance[f] += deviation * deviation
            }
        }
        self.mean = mean
        // A spread below 1e-12 of the mean's size is rounding noise in a constant column.
        self.std = (0..<featureCount).map { f in
            let deviation = (variance[f] / count).squareRoot()
            return deviation > 1e-12 * max(1, abs(mean[f])) ? deviation : 1
        }
    }

    /// The rows standardised, row-major in one flat array.
    func flatten(_ rows: [[Double]]) -> [Double] {
        var flat: [Double] = []
        flat.reserveCapacity(rows.count * mean.count)
        for row in rows {
            for f in mean.indices { flat.append((row[f] - mean[f]) / std[f]) }
        }
        return flat
    }
}
