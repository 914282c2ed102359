import RedMLCore

/// What to register as a new version, apart from the weights themselves.
///
/// ```swift
/// let version = try await registry.register(
///     MLRegistration(model: "spam", hyperparameters: ["lr": 0.01], metrics: ["accuracy": 0.97]),
///     weights: weightsData)
/// ```
public struct MLRegistration: Hashable, Sendable {
    /// The model to add a version to; created on first use.
    public var model: String
    /// Training hyperparameters.
    public var hyperparameters: MLJSONObject
    /// Evaluation metrics.
    public var metrics: MLJSONObject
    /// Lowercase hex SHA-256 of the training data.
    public var trainingDataSHA256: String?
    /// The query that produced the training data.
    public var trainingQuery: String?
    /// The version this one was fine-tuned from; it must exist.
    public var parentVersion: UInt32?
    /// Who registers it.
    public var createdBy: String?
    /// Free text about the version; empty is stored as none (as an update's
    /// empty description clears it).
    public var description: String?
    /// Key–value tags.
    public var tags: [String: String]
    /// The job that produced the version.
    public var jobID: UInt128?
    /// Whether the new version becomes active. Defaults to `true`.
    public var activate: Bool
    /// The number the new version must get, or `nil` for whatever is next.
    /// When another registration took it first, registering fails with
    /// ``MLRegistryError/Code/versionConflict`` and nothing is written, so a
    /// retried upload cannot create a second version.
    public var expectedVersion: UInt32?
    /// The lowercase hex SHA-256 the weights must hash to, or `nil`. Weights
    /// that arrive different (a truncated or altered upload) fail the
    /// registration with ``MLRegistryError/Code/invalidArgument`` naming both
    /// digests, and nothing is written.
    public var expectedWeightsSHA256: String?

    /// Creates a registration; only the model name is required.
    public init(
        model: String, hyperparameters: MLJSONObject = [:], metrics: MLJSONObject = [:],
        trainingDataSHA256: String? = nil, trainingQuery: String? = nil, parentVersion: UInt32? = nil,
        createdBy: String? = nil, description: String? = nil, tags: [String: String] = [:],
        jobID: UInt128? = nil, activate: Bool = true, expectedVersion: UInt32? = nil,
        expectedWeightsSHA256: String? = nil
    ) {
        self.model = model
        self.hyperparameters = hyperparameters
        self.metrics = metrics
        self.trainingDataSHA256 = trainingDataSHA256
        self.trainingQuery = trainingQuery
        self.parentVersion = parentVersion
        self.createdBy = createdBy
        self.description = description
        self.tags = tags
        self.jobID = jobID
        self.activate = activate
        self.expectedVersion = expectedVersion
        self.expectedWeightsSHA256 = expectedWeightsSHA256
    }

    /// Checks everything that can be checked without the store, as a register
    /// does first, so a caller can refuse a registration before it opens one.
    ///
    /// - Throws: ``MLRegistryError`` naming the model and the field.
    public func validate() throws(MLRegistryError) {
        try RegistryValidation.model(model)
        if let parentVersion { try RegistryValidation.version(parentVersion, model: model) }
        if let expectedVersion { try RegistryValidation.version(expectedVersion, model: model) }
        try RegistryValidation.json(hyperparameters, "hyperparameters", model: model)
        try RegistryValidation.json(metrics, "metrics", model: model)
        try RegistryValidation.sha256(trainingDataSHA256, "training data SHA-256", model: model)
        try RegistryValidation.sha256(expectedWeightsSHA256, "expected weights SHA-256", model: model)
        try RegistryValidation.text(trainingQuery, "training query", model: model, limit: 1 << 20)
        try RegistryValidation.text(createdBy, "created-by", model: model, limit: 255)
        try RegistryValidation.text(description, "description", model: model, limit: 1 << 16)
        try RegistryValidation.tags(tags, model: model, field: "tag")
    }
}
