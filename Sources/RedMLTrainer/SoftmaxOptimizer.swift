import Foundation

/// Full-batch Adam on the mean softmax cross-entropy plus an L2 penalty on
/// the weights, over standardised rows.
///
/// Parameters live in one flat array: the weights row-major (`C × F`, one
/// row per class), then the `C` biases. Adam's moments use the same layout.
/// One ``step()`` is one epoch. The arithmetic runs in a fixed order on one
/// thread, so the same inputs give bit-identical parameters, and a run
/// resumed from saved parameters and moments continues exactly as an
/// uninterrupted one would.
struct SoftmaxOptimizer {
    static let beta1 = 0.9
    static let beta2 = 0.999
    static let epsilon = 1e-8

    let rows: [Double]
    let labels: [Int]
    let featureCount: Int
    let classCount: Int
    let learningRate: Double
    let l2: Double

    /// Weights then biases.
    var parameters: [Double]
    var firstMoment: [Double]
    var secondMoment: [Double]
    /// Adam steps taken so far (= epochs completed).
    var steps: Int

    // Scratch space, reused every step.
    private var logits: [Double]
    private var gradient: [Double]

    var parameterCount: Int { classCount * (featureCount + 1) }

    init(rows: [Double], labels: [Int], featureCount: Int, classCount: Int, learningRate: Double, l2: Double) {
        self.rows = rows
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
        self.learningRate = learningRate
        self.l2 = l2
        let count = classCount * (featureCount + 1)
        parameters = [Double](repeating: 0, count: count)
        firstMoment = [Double](repeating: 0, count: count)
        secondMoment = [Double](repeating: 0, count: count)
        steps = 0
        logits = [Double](repeating: 0, count: labels.count * classCount)
        gradient = [Double](repeating: 0, count: count)
    }

    /// One epoch: the loss at the current parameters, then one Adam update. Returns that loss.
    mutating func step() -> Double {
        let loss = computeGradient()
        steps += 1
        let learningRate = learningRate
        let correction1 = 1 - Foundation.pow(Self.beta1, Double(steps))
        let correction2 = 1 - Foundation.pow(Self.beta2, Double(steps))
        let count = parameterCount
        gradient.withUnsafeBufferPointer { g in
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { v in
                    parameters.withUnsafeMutableBufferPointer { p in
                        for i in 0..<count {
                            m[i] = Self.beta1 * m[i] + (1 - Self.beta1) * g[i]
                            v[i] = Self.beta2 * v[i] + (1 - Self.beta2) * g[i] * g[i]
                            let mHat = m[i] / correction1
                            let vHat = v[i] / correction2
                            p[i] -= learningRate * mHat / (vHat.squareRoot() + Self.epsilon)
                        }
                    }
                }
            }
        }
        return loss
    }

    // The two inner loops, over raw pointers with `while`: debug builds (tests)
    // do not inline range iteration or buffer subscripts, and these loops are
    // nearly all of the work (digits: 2 × 1438 × 64 × 10 per epoch).

    /// `Σ a[i] × b[i]` for `i < count`.
    private static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
        var sum = 0.0
        var a = a, b = b
        let end = a + count
        while a < end {
            sum += a.pointee * b.pointee
            a += 1
            b += 1
        }
        return sum
    }

    /// `target[i] += scale × source[i]` for `i < count`.
    private static func addScaled(
        _ scale: Double, _ source: UnsafePointer<Double>, to target: UnsafeMutablePointer<Double>, _ count: Int
    ) {
        var source = source, target = target
        let end = source + count
        while source < end {
            target.pointee += scale * source.pointee
            source += 1
            target += 1
        }
    }

    /// The objective at the current parameters, without updating them.
    mutating func objective() -> Double { computeGradient() }

    /// Fills `gradient` with the objective's gradient; returns the objective.
    private mutating func computeGradient() -> Double {
        let n = labels.count, f = featureCount, c = classCount
        let weightCount = c * f
        let scale = 1 / Double(max(1, n))
        var crossEntropy = 0.0
        rows.withUnsafeBufferPointer { x in
            labels.withUnsafeBufferPointer { y in
                parameters.withUnsafeBufferPointer { p in
                    logits.withUnsafeMutableBufferPointer { z in
                        gradient.withUnsafeMutableBufferPointer { g in
                            for i in 0..<g.count { g[i] = 0 }
                            for row in 0..<n {
                                let xBase = row * f, zBase = row * c
                                // Logits, then probabilities in place (max subtracted for stability).
                                var top = -Double.infinity
                                for k in 0..<c {
                                    let sum = p[weightCount + k] + Self.dot(p.baseAddress! + k * f, x.baseAddress! + xBase, f)
                                    z[zBase + k] = sum
                                    if sum > top { top = sum }
                                }
                                var total = 0.0
                                for k in 0..<c {
                                    let e = Foundation.exp(z[zBase + k] - top)
                                    z[zBase + k] = e
                                    total += e
                                }
                                let label = y[row]
                                crossEntropy -= Foundation.log(max(z[zBase + label] / total, 1e-300))
                                // d(loss)/d(logit) = probability - one-hot, accumulated into the gradient.
                                for k in 0..<c {
                                    var delta = z[zBase + k] / total
                                    if k == label { delta -= 1 }
                                    delta *= scale
                                    g[weightCount + k] += delta
                                    Self.addScaled(delta, x.baseAddress! + xBase, to: g.baseAddress! + k * f, f)
                                }
                            }
                            var penalty = 0.0
                            for i in 0..<weightCount {
                                penalty += p[i] * p[i]
                                g[i] += l2 * p[i]
                            }
                            crossEntropy = crossEntropy * scale + 0.5 * l2 * penalty
                        }
                    }
                }
            }
        }
        return crossEntropy
    }
}
