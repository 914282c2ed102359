import HTTPTypes

extension HTTPField.Name {
    /// Who makes a change, recorded in the model's history.
    static let redMLActor = HTTPField.Name("RedML-Actor")!
    /// The registration metadata (a JSON object) of a streamed weights upload.
    static let redMLRegistration = HTTPField.Name("RedML-Registration")!
    /// The lowercase hex SHA-256 of downloaded weights.
    static let redMLSHA256 = HTTPField.Name("RedML-SHA256")!
}
