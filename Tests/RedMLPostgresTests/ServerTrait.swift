import RedMLTestFixtures
import Testing

extension Trait where Self == ConditionTrait {
    /// Runs a suite against the server of `POSTGRES_URL`; without one its tests
    /// fail and say how to start one, unless `REDML_SKIP_POSTGRES=1`.
    static var needsPostgres: Self {
        .enabled(if: !PostgresBackend.isSkipped, "REDML_SKIP_POSTGRES=1 leaves the PostgreSQL backend out")
    }
}
