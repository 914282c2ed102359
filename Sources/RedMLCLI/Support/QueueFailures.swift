import RedML

extension CLIError {
    /// A job queue failure as one line that says what was wrong and what to do.
    init(_ error: MLJobError) {
        switch error.code {
        case .unknownJob:
            self.init("\(error.message); list jobs with `redml jobs list`")
        default:
            if let underlying = error.underlying {
                self.init(underlying, context: error.message)
            } else {
                self.init(error.message)
            }
        }
        code = error.code.rawValue
    }
}
