import RedMLRegistry

extension MLSoftmaxModel {
    /// Loads the weights of `version` of `model` from the registry, verified.
    ///
    /// - Throws: ``MLRegistryError`` (`unknown_model`, `unknown_version`,
    ///   `weights_deleted`, `weights_corrupt`), or ``MLTrainerError`` with code
    ///   `invalid_weights` if they are not `redml.softmax.v1` weights.
    public static func load(from registry: MLModelRegistry, model: String, version: UInt32) async throws -> MLSoftmaxModel {
        let data = try await registry.weightsData(of: model, version: version)
        do {
            return try MLSoftmaxModel(decoding: data)
        } catch {
            var named = error
            named.message = "version \(version) of model '\(model)': \(error.message)"
            named.source = "\(model)@\(version)"
            throw named
        }
    }

    /// Loads the version an alias points at: `active` (the default), `latest`, or a named alias.
    ///
    /// - Throws: ``MLRegistryError`` with code `unknown_version` if the alias
    ///   is `active` and no version is active, `unknown_alias` for an unknown
    ///   alias, and the errors of ``load(from:model:version:)``.
    public static func load(
        from registry: MLModelRegistry, model: String, alias: String = "active"
    ) async throws -> MLSoftmaxModel {
        guard let version = try await registry.version(of: model, alias: alias) else {
            throw MLRegistryError(code: .unknownVersion, message: "model '\(model)' has no \(alias) version", model: model)
        }
        return try await load(from: registry, model: model, version: version.version)
    }
}
