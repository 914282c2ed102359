/// Why an external handler could not be set up or its program could not be started.
///
/// What the program itself does wrong (a non-zero exit, a malformed protocol
/// line) fails the job with an `MLJobFailure` instead, whose message is
/// recorded on the job.
public struct MLExternalHandlerError: Error, Sendable, CustomStringConvertible {
    /// A stable name for what went wrong.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A `KIND=COMMAND` argument without `=`.
        public static let missingSeparator = Code(rawValue: "missing_separator")
        /// A `KIND=COMMAND` argument with nothing before `=`.
        public static let emptyKind = Code(rawValue: "empty_kind")
        /// A `KIND=COMMAND` argument with nothing after `=`.
        public static let emptyCommand = Code(rawValue: "empty_command")
        /// A kind that is not 1–64 letters, digits, `_`, `-` or `.`.
        public static let invalidKind = Code(rawValue: "invalid_kind")
        /// A configuration value out of range (an empty shell, a negative limit).
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")
        /// The operating system refused to start the program.
        public static let spawnFailed = Code(rawValue: "spawn_failed")
    }

    /// What went wrong.
    public var code: Code
    /// What was given and what was expected.
    public var message: String
    /// The system error behind it, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { underlying.map { "\(message) (\($0))" } ?? message }
}
