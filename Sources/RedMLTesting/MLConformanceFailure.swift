/// A conformance check that did not hold: what was expected, what was found, and where.
public struct MLConformanceFailure: Error, CustomStringConvertible {
    /// What was expected and what was found instead.
    public let message: String
    /// The source file of the failed check.
    public let file: String
    /// The line of the failed check.
    public let line: UInt

    /// Creates a failure.
    public init(_ message: String, file: String = #fileID, line: UInt = #line) {
        self.message = message
        self.file = file
        self.line = line
    }

    /// The message, prefixed with the place of the check.
    public var description: String { "\(file):\(line): \(message)" }
}
