/// Every route of the HTTP API: the one list the router is built from and
/// that `openapi.yaml` is checked against.
public enum MLHTTPRoute: String, CaseIterable, Sendable {
    case health
    case readiness
    case metrics
    case openAPI
    case listModels
    case getModel
    case updateModel
    case listVersions
    case registerVersion
    case getVersion
    case updateVersion
    case downloadWeights
    case uploadWeights
    case archiveVersion
    case unarchiveVersion
    case getActive
    case setActive
    case clearActive
    case getAlias
    case setAlias
    case removeAlias
    case modelHistory
    case submitJob
    case listJobs
    case getJob
    case cancelJob
    case jobHistory
    case jobEvents

    /// The HTTP method, as written in `openapi.yaml` (`GET`, `POST`, …).
    public var method: String {
        switch self {
        case .health, .readiness, .metrics, .openAPI, .listModels, .getModel, .listVersions, .getVersion, .downloadWeights,
            .getActive, .getAlias, .modelHistory, .listJobs, .getJob, .jobHistory, .jobEvents:
            "GET"
        case .registerVersion, .archiveVersion, .unarchiveVersion, .submitJob, .cancelJob: "POST"
        case .updateModel, .updateVersion: "PATCH"
        case .uploadWeights, .setActive, .setAlias: "PUT"
        case .clearActive, .removeAlias: "DELETE"
        }
    }

    /// The path template, with `{parameter}` captures (the syntax both
    /// Hummingbird and OpenAPI use).
    public var path: String {
        switch self {
        case .health: "/healthz"
        case .readiness: "/readyz"
        case .metrics: "/metrics"
        case .openAPI: "/openapi.yaml"
        case .listModels: "/v1/models"
        case .getModel, .updateModel: "/v1/models/{name}"
        case .listVersions, .registerVersion: "/v1/models/{name}/versions"
        case .getVersion, .updateVersion: "/v1/models/{name}/versions/{version}"
        case .downloadWeights, .uploadWeights: "/v1/models/{name}/versions/{version}/weights"
        case .archiveVersion: "/v1/models/{name}/versions/{version}/archive"
        case .unarchiveVersion: "/v1/models/{name}/versions/{version}/unarchive"
        case .getActive, .setActive, .clearActive: "/v1/models/{name}/active"
        case .getAlias, .setAlias, .removeAlias: "/v1/models/{name}/aliases/{alias}"
        case .modelHistory: "/v1/models/{name}/history"
        case .submitJob, .listJobs: "/v1/jobs"
        case .getJob: "/v1/jobs/{id}"
        case .cancelJob: "/v1/jobs/{id}/cancel"
        case .jobHistory: "/v1/jobs/{id}/history"
        case .jobEvents: "/v1/jobs/{id}/events"
        }
    }

    /// Whether the route answers without a bearer token (only the probes do:
    /// a load balancer or an orchestrator asks them with no credentials).
    public var isPublic: Bool { self == .health || self == .readiness }

    /// The paths of the routes that need no token.
    static let publicPaths = Set(allCases.filter(\.isPublic).map(\.path))
}
