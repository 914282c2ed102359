import RedML

/// Parses the JSON-object options (`--spec`, `--hyperparams`, `--metrics`).
enum JSONArgument {
    /// Parses `text` as a JSON object given for `option`.
    ///
    /// - Throws: ``CLIError`` naming the option, the position of the first
    ///   syntax error and what was expected there, or saying that the value is
    ///   JSON but not an object.
    static func object(_ text: String, option: String) throws -> MLJSONObject {
        do {
            return try MLJSONValue.parseObject(text, field: option)
        } catch {
            let quoting = "quote it for the shell, such as \(option) '{\"learning_rate\": 0.1}'"
            if let problem = MLJSONSyntaxCheck.firstProblem(in: text) {
                throw CLIError.invalidArgument("invalid JSON for \(option): \(problem); \(quoting)")
            }
            throw CLIError.invalidArgument("invalid JSON for \(option): \(error.reason); \(quoting)")
        }
    }
}
