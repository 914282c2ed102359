import RedMLPersistence

/// The qualified names of the store's tables in its PostgreSQL schema, ready
/// to splice into SQL.
///
/// The schema name is checked once (lowercase letters, digits and `_`), so
/// the names need no escaping beyond the double quotes they carry.
struct PostgresTables: Sendable {
    /// The schema, unquoted.
    let schema: String
    /// The schema, quoted as an identifier.
    let quotedSchema: String
    let kv: String
    let revisionSequence: String
    let blobUploads: String
    let blobChunks: String
    let blobs: String
    let migrations: String
    let roles: String
    /// The job queue's jobs, one row each (`ml_job`).
    let job: String
    /// The jobs' history, one row per event (`ml_job_event`).
    let jobEvent: String

    init(schema: String) throws {
        guard Self.isValidSchemaName(schema) else {
            throw MLPersistenceError.invalidArgument(
                "PostgreSQL schema name '\(schema)' must be 1 to 63 characters of a-z, 0-9 and _, "
                    + "not starting with a digit, and must not start with pg_")
        }
        self.schema = schema
        quotedSchema = "\"\(schema)\""
        kv = "\(quotedSchema).ml_kv"
        revisionSequence = "\(quotedSchema).ml_revision"
        blobUploads = "\(quotedSchema).ml_blob_uploads"
        blobChunks = "\(quotedSchema).ml_blob_chunks"
        blobs = "\(quotedSchema).ml_blobs"
        migrations = "\(quotedSchema).redml_migrations"
        roles = "\(quotedSchema).ml_roles"
        job = "\(quotedSchema).ml_job"
        jobEvent = "\(quotedSchema).ml_job_event"
    }

    /// `nextval` of the revision counter, as SQL.
    var nextRevision: String { "nextval('\(revisionSequence)'::regclass)" }

    static func isValidSchemaName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), !name.hasPrefix("pg_"), !(bytes[0] >= 48 && bytes[0] <= 57) else {
            return false
        }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}
