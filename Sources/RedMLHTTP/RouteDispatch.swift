import Hummingbird

extension MLHTTPAPI {
    /// Answers one route; the switch is exhaustive, so a route cannot be listed without a handler.
    func respond<Context: RequestContext>(to route: MLHTTPRoute, _ input: RequestInput<Context>) async throws -> Response {
        switch route {
        case .health: try health(input)
        case .readiness: try ready(input)
        case .metrics: try metrics(input)
        case .openAPI: try openAPIDocument(input)
        case .listModels: try await listModels(input)
        case .getModel: try await getModel(input)
        case .updateModel: try await updateModel(input)
        case .listVersions: try await listVersions(input)
        case .registerVersion: try await registerVersion(input)
        case .getVersion: try await getVersion(input)
        case .updateVersion: try await updateVersion(input)
        case .downloadWeights: try await downloadWeights(input)
        case .uploadWeights: try await uploadWeights(input)
        case .archiveVersion: try await archiveVersion(input)
        case .unarchiveVersion: try await unarchiveVersion(input)
        case .getActive: try await getActive(input)
        case .setActive: try await setActive(input)
        case .clearActive: try await clearActive(input)
        case .getAlias: try await getAlias(input)
        case .setAlias: try await setAlias(input)
        case .removeAlias: try await removeAlias(input)
        case .modelHistory: try await modelHistory(input)
        case .submitJob: try await submitJob(input)
        case .listJobs: try await listJobs(input)
        case .getJob: try await getJob(input)
        case .cancelJob: try await cancelJob(input)
        case .jobHistory: try await jobHistory(input)
        case .jobEvents: try await jobEvents(input)
        }
    }
}
