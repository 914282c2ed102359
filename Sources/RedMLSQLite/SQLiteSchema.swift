import GRDB
import RedMLPersistence

/// The store's schema, as an append-only list of migrations.
///
/// The schema version lives in `PRAGMA user_version`. Migrations run inside
/// one `BEGIN IMMEDIATE` transaction, which makes them safe when several
/// processes open a new file at once: the first takes the write lock and
/// migrates, the others wait for it and then find nothing left to do. (GRDB's
/// `DatabaseMigrator` runs each migration in a deferred transaction, which two
/// processes can race on, so it is not used here.)
///
/// Never edit a migration that has shipped; append a new one.
enum SQLiteSchema {
    /// Migration `i` takes the schema from version `i` to `i + 1`.
    static let migrations: [String] = [
        // 1: entries, the revision counter, blobs, and the operator views.
        """
        CREATE TABLE ml_kv (
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            revision INTEGER NOT NULL,
            PRIMARY KEY (namespace, key)
        ) WITHOUT ROWID;

        CREATE TABLE ml_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            revision INTEGER NOT NULL
        );
        INSERT INTO ml_state (id, revision) VALUES (1, 0);

        CREATE TABLE ml_blob_uploads (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at_ms INTEGER NOT NULL,
            sha256 TEXT,
            size INTEGER,
            chunk_count INTEGER,
            committed INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE ml_blob_chunks (
            upload_id INTEGER NOT NULL REFERENCES ml_blob_uploads(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (upload_id, seq)
        );
        CREATE TABLE ml_blobs (
            sha256 TEXT PRIMARY KEY NOT NULL,
            size INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL,
            upload_id INTEGER NOT NULL UNIQUE REFERENCES ml_blob_uploads(id),
            created_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE VIEW ml_models AS
        SELECT key AS name,
               json_extract(v, '$.active_version') AS active_version,
               json_extract(v, '$.latest_version') AS latest_version,
               json_extract(v, '$.description') AS description,
               datetime(json_extract(v, '$.created_at_ms') / 1000.0, 'unixepoch') AS created_at,
               v IS NULL AS corrupt,
               revision
        FROM (SELECT key, CASE WHEN json_valid(value) THEN value END AS v, revision
              FROM ml_kv WHERE namespace = 'models');

        CREATE VIEW ml_model_versions AS
        SELECT json_extract(v, '$.model') AS model,
               json_extract(v, '$.version') AS version,
               json_extract(v, '$.archived') AS archived,
               json_extract(v, '$.weights_sha256') AS weights_sha256,
               json_extract(v, '$.weights_size') AS weights_size,
               json_extract(v, '$.parent_version') AS parent_version,
               json_extract(v, '$.job_id') AS job_id,
               json_extract(v, '$.created_by') AS created_by,
               datetime(json_extract(v, '$.created_at_ms') / 1000.0, 'unixepoch') AS created_at,
               json_extract(v, '$.metrics') AS metrics,
               key,
               v IS NULL AS corrupt,
               revision
        FROM (SELECT key, CASE WHEN json_valid(value) THEN value END AS v, revision
              FROM ml_kv WHERE namespace = 'model_versions');

        CREATE VIEW ml_jobs AS
        SELECT key AS id,
               json_extract(v, '$.kind') AS kind,
               json_extract(v, '$.target') AS target,
               json_extract(v, '$.status') AS status,
               json_extract(v, '$.progress') AS progress,
               json_extract(v, '$.queue') AS queue,
               json_extract(v, '$.priority') AS priority,
               json_extract(v, '$.attempt') AS attempt,
               json_extract(v, '$.error') AS error,
               datetime(json_extract(v, '$.created_at_ms') / 1000.0, 'unixepoch') AS created_at,
               datetime(json_extract(v, '$.started_at_ms') / 1000.0, 'unixepoch') AS started_at,
               datetime(json_extract(v, '$.finished_at_ms') / 1000.0, 'unixepoch') AS finished_at,
               v IS NULL AS corrupt,
               revision
        FROM (SELECT key, CASE WHEN json_valid(value) THEN value END AS v, revision
              FROM ml_kv WHERE namespace = 'jobs');
        """
    ]

    /// The schema version this build writes.
    static var currentVersion: Int { migrations.count }

    /// Brings the schema up to date, or refuses a schema from a newer build.
    static func migrate(_ db: Database, storeName: String) throws {
        try db.inTransaction(.immediate) {
            let found = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            guard found <= currentVersion else {
                throw MLPersistenceError.schemaTooNew(store: storeName, found: found, supported: currentVersion)
            }
            for version in found..<currentVersion {
                try db.execute(sql: migrations[version])
            }
            if found != currentVersion {
                try db.execute(sql: "PRAGMA user_version = \(currentVersion)")
            }
            return .commit
        }
    }

    /// The schema version of an open database, without changing it.
    static func version(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
    }
}
