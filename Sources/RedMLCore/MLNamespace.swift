/// The namespaces the registry and the job queue store their records in.
///
/// They are plain strings so that a backend can map them onto its own layout
/// (a column in SQLite and PostgreSQL, a dictionary in memory).
public enum MLNamespace {
    /// Model records, keyed by ``MLKey/model(_:)``.
    public static let models = "models"
    /// Model version records, keyed by ``MLKey/modelVersion(_:_:)``.
    public static let modelVersions = "model_versions"
    /// Job records, keyed by ``MLKey/job(_:)``.
    public static let jobs = "jobs"
}
