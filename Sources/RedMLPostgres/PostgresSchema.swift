import Logging
import PostgresNIO
import RedMLPersistence

/// The store's schema, as an append-only list of migrations.
///
/// Every table lives in the store's own PostgreSQL schema (`redml` by
/// default), so several applications can share one database. The versions
/// applied are rows of its `redml_migrations` table. Migrations run in one
/// transaction under a transaction-level advisory lock keyed by the schema
/// name, so when several processes start at once the first migrates and the
/// others wait for it and then find nothing left to do. PostgreSQL's DDL is
/// transactional: a failed migration leaves nothing behind.
///
/// Never edit a migration that has shipped; append a new one.
enum PostgresSchema {
    /// One step of the schema: statements run in order with `search_path` set
    /// to the store's schema, so they use unqualified names.
    struct Migration {
        let description: String
        let statements: [String]
    }

    /// Migration `i` takes the schema from version `i` to `i + 1`.
    static let migrations: [Migration] = [
        Migration(description: "entries, the revision counter, blobs and the operator views", statements: [
            // Keys compare and sort bytewise (COLLATE "C"), like SQLite's BINARY collation.
            """
            CREATE TABLE ml_kv (
                namespace text COLLATE "C" NOT NULL,
                key text COLLATE "C" NOT NULL,
                value text NOT NULL,
                revision bigint NOT NULL,
                PRIMARY KEY (namespace, key)
            )
            """,
            // One counter for the whole store: revisions are never reused.
            "CREATE SEQUENCE ml_revision AS bigint MINVALUE 1 START 1",
            """
            CREATE TABLE ml_blob_uploads (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                started_at_ms bigint NOT NULL,
                sha256 text COLLATE "C",
                size bigint,
                chunk_count integer,
                committed boolean NOT NULL DEFAULT false
            )
            """,
            "CREATE INDEX ml_blob_uploads_open ON ml_blob_uploads (started_at_ms) WHERE NOT committed",
            """
            CREATE TABLE ml_blob_chunks (
                upload_id bigint NOT NULL REFERENCES ml_blob_uploads (id) ON DELETE CASCADE,
                seq integer NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (upload_id, seq)
            )
            """,
            // Weights rarely compress: store chunks out of line without trying.
            "ALTER TABLE ml_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL",
            """
            CREATE TABLE ml_blobs (
                sha256 text COLLATE "C" PRIMARY KEY,
                size bigint NOT NULL,
                chunk_count integer NOT NULL,
                upload_id bigint NOT NULL UNIQUE REFERENCES ml_blob_uploads (id),
                created_at_ms bigint NOT NULL
            )
            """,
            // The views' helpers: a value that is not JSON, or a field of the
            // wrong type, reads as NULL instead of failing the whole query.
            // jsonb refuses the escape \\u0000 that JSON allows, so a second try
            // reads it as U+FFFD.
            #"""
            CREATE FUNCTION ml_try_jsonb(value text) RETURNS jsonb
            LANGUAGE plpgsql IMMUTABLE STRICT AS $$
            BEGIN
                RETURN value::jsonb;
            EXCEPTION WHEN others THEN
                BEGIN
                    RETURN replace(value, '\u0000', '\ufffd')::jsonb;
                EXCEPTION WHEN others THEN
                    RETURN NULL;
                END;
            END
            $$
            """#,
            """
            CREATE FUNCTION ml_json_number(doc jsonb, field text) RETURNS numeric
            LANGUAGE sql IMMUTABLE AS $$
                SELECT CASE WHEN jsonb_typeof(doc -> field) = 'number' THEN (doc ->> field)::numeric END
            $$
            """,
            """
            CREATE FUNCTION ml_json_boolean(doc jsonb, field text) RETURNS boolean
            LANGUAGE sql IMMUTABLE AS $$
                SELECT CASE WHEN jsonb_typeof(doc -> field) = 'boolean' THEN (doc ->> field)::boolean END
            $$
            """,
            // Milliseconds since 1970 as a timestamp; absurd values read as NULL.
            """
            CREATE FUNCTION ml_json_time(doc jsonb, field text) RETURNS timestamptz
            LANGUAGE sql STABLE AS $$
                SELECT CASE WHEN jsonb_typeof(doc -> field) = 'number'
                                 AND abs((doc ->> field)::numeric) < 1e14
                            THEN to_timestamp((doc ->> field)::double precision / 1000) END
            $$
            """,
            """
            CREATE VIEW ml_models AS
            SELECT key AS name,
                   ml_json_number(v, 'active_version') AS active_version,
                   ml_json_number(v, 'latest_version') AS latest_version,
                   v ->> 'description' AS description,
                   ml_json_time(v, 'created_at_ms') AS created_at,
                   v IS NULL AS corrupt,
                   revision
            FROM (SELECT key, ml_try_jsonb(value) AS v, revision FROM ml_kv WHERE namespace = 'models') AS entries
            """,
            """
            CREATE VIEW ml_model_versions AS
            SELECT v ->> 'model' AS model,
                   ml_json_number(v, 'version') AS version,
                   ml_json_boolean(v, 'archived') AS archived,
                   v ->> 'weights_sha256' AS weights_sha256,
                   ml_json_number(v, 'weights_size') AS weights_size,
                   ml_json_number(v, 'parent_version') AS parent_version,
                   v ->> 'job_id' AS job_id,
                   v ->> 'created_by' AS created_by,
                   ml_json_time(v, 'created_at_ms') AS created_at,
                   v -> 'metrics' AS metrics,
                   key,
                   v IS NULL AS corrupt,
                   revision
            FROM (SELECT key, ml_try_jsonb(value) AS v, revision FROM ml_kv WHERE namespace = 'model_versions')
                AS entries
            """,
            """
            CREATE VIEW ml_jobs AS
            SELECT key AS id,
                   v ->> 'kind' AS kind,
                   v ->> 'target' AS target,
                   v ->> 'status' AS status,
                   ml_json_number(v, 'progress') AS progress,
                   v ->> 'queue' AS queue,
                   ml_json_number(v, 'priority') AS priority,
                   ml_json_number(v, 'attempt') AS attempt,
                   v ->> 'error' AS error,
                   ml_json_time(v, 'created_at_ms') AS created_at,
                   ml_json_time(v, 'started_at_ms') AS started_at,
                   ml_json_time(v, 'finished_at_ms') AS finished_at,
                   v IS NULL AS corrupt,
                   revision
            FROM (SELECT key, ml_try_jsonb(value) AS v, revision FROM ml_kv WHERE namespace = 'jobs') AS entries
            """,
        ]),
        Migration(description: "ml_apply: a batch in one statement", statements: [
            // The batch as a JSON array of {"o": put|delete|require, "n", "k", "v", "c": none|absent|present|revision, "r"},
            // applied in order with each condition checked on the locked row, as PostgresBatch does
            // statement by statement; a failed condition raises SQLSTATE RMLC1 with the operation's
            // index and the revision found as JSON.
            // SET search_path FROM CURRENT: the names below resolve in this schema whoever calls it.
            """
            CREATE FUNCTION ml_apply(ops jsonb) RETURNS bigint LANGUAGE plpgsql
            SET search_path FROM CURRENT AS $$
            DECLARE
                rev bigint := nextval('ml_revision');
                item record;
                op jsonb;
                cur bigint;
                present boolean;
                satisfied boolean;
            BEGIN
                FOR item IN SELECT value, ordinality FROM jsonb_array_elements(ops) WITH ORDINALITY LOOP
                    op := item.value;
                    IF op->>'c' <> 'none' THEN
                        IF op->>'o' = 'require' THEN
                            SELECT revision INTO cur FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k' FOR SHARE;
                        ELSE
                            SELECT revision INTO cur FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k' FOR UPDATE;
                        END IF;
                        present := FOUND;
                        satisfied := CASE op->>'c'
                            WHEN 'absent' THEN NOT present
                            WHEN 'present' THEN present
                            ELSE present AND cur = (op->>'r')::bigint END;
                        IF NOT satisfied THEN
                            RAISE EXCEPTION USING ERRCODE = 'RMLC1', MESSAGE = jsonb_build_object(
                                'index', item.ordinality - 1, 'found', CASE WHEN present THEN cur END)::text;
                        END IF;
                    END IF;
                    IF op->>'o' = 'put' THEN
                        INSERT INTO ml_kv (namespace, key, value, revision) VALUES (op->>'n', op->>'k', op->>'v', rev)
                        ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, revision = excluded.revision;
                    ELSIF op->>'o' = 'delete' THEN
                        DELETE FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k';
                    END IF;
                END LOOP;
                RETURN rev;
            END
            $$
            """,
        ]),
        Migration(description: "role leases for exclusively()", statements: [
            // One row per role while a process holds it: who holds it, and until when.
            // A lease, not a lock held by a session, so the holder keeps no connection
            // (and no open transaction) while it works. UNLOGGED: taking a role costs no
            // WAL flush, and after a crash or a failover every role is simply free.
            """
            CREATE UNLOGGED TABLE ml_roles (
                role text COLLATE "C" PRIMARY KEY,
                holder text NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
        ]),
        Migration(description: "ml_kv split: a narrow partition of live-job index entries", statements: [
            // The queue's indexes of live jobs (ready, scheduled, leased) churn: every job
            // inserts and deletes an entry in each. In their own small partition, claims scan
            // only live entries and autovacuum reclaims their dead rows after every thousand
            // changes, while the records, history and registry stay in the default partition
            // at default settings. Statements on ml_kv need no change: PostgreSQL routes rows
            // by namespace. The operator views, bound to the old table, keep reading the
            // default partition, which holds every namespace they show.
            "ALTER TABLE ml_kv RENAME TO ml_kv_rest",
            "ALTER TABLE ml_kv_rest RENAME CONSTRAINT ml_kv_pkey TO ml_kv_rest_pkey",
            """
            CREATE TABLE ml_kv (
                namespace text COLLATE "C" NOT NULL,
                key text COLLATE "C" NOT NULL,
                value text NOT NULL,
                revision bigint NOT NULL,
                PRIMARY KEY (namespace, key)
            ) PARTITION BY LIST (namespace)
            """,
            """
            CREATE TABLE ml_kv_live PARTITION OF ml_kv
            FOR VALUES IN ('job_ready', 'job_scheduled', 'job_leases')
            WITH (
                autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
                autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000,
                autovacuum_vacuum_cost_delay = 0
            )
            """,
            """
            INSERT INTO ml_kv_live SELECT namespace, key, value, revision FROM ml_kv_rest
            WHERE namespace IN ('job_ready', 'job_scheduled', 'job_leases')
            """,
            """
            DELETE FROM ml_kv_rest
            WHERE namespace IN ('job_ready', 'job_scheduled', 'job_leases')
            """,
            "ALTER TABLE ml_kv ATTACH PARTITION ml_kv_rest DEFAULT",
        ]),
        Migration(description: "ml_apply: put-if-absent inserts with ON CONFLICT DO NOTHING", statements: [
            // In READ COMMITTED (locked commits and claims), SELECT ... FOR UPDATE cannot
            // lock a row another transaction inserted but has not committed: the absence
            // check passed in both, and the upsert that waited then overwrote the first
            // insert. DO NOTHING waits for that insert instead, and no row inserted means
            // the key was there: a conflict. Otherwise as migration 2.
            """
            CREATE OR REPLACE FUNCTION ml_apply(ops jsonb) RETURNS bigint LANGUAGE plpgsql
            SET search_path FROM CURRENT AS $$
            DECLARE
                rev bigint := nextval('ml_revision');
                item record;
                op jsonb;
                cur bigint;
                present boolean;
                satisfied boolean;
            BEGIN
                FOR item IN SELECT value, ordinality FROM jsonb_array_elements(ops) WITH ORDINALITY LOOP
                    op := item.value;
                    IF op->>'o' = 'put' AND op->>'c' = 'absent' THEN
                        INSERT INTO ml_kv (namespace, key, value, revision) VALUES (op->>'n', op->>'k', op->>'v', rev)
                        ON CONFLICT (namespace, key) DO NOTHING;
                        IF NOT FOUND THEN
                            SELECT revision INTO cur FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k';
                            RAISE EXCEPTION USING ERRCODE = 'RMLC1', MESSAGE = jsonb_build_object(
                                'index', item.ordinality - 1, 'found', cur)::text;
                        END IF;
                        CONTINUE;
                    END IF;
                    IF op->>'c' <> 'none' THEN
                        IF op->>'o' = 'require' THEN
                            SELECT revision INTO cur FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k' FOR SHARE;
                        ELSE
                            SELECT revision INTO cur FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k' FOR UPDATE;
                        END IF;
                        present := FOUND;
                        satisfied := CASE op->>'c'
                            WHEN 'absent' THEN NOT present
                            WHEN 'present' THEN present
                            ELSE present AND cur = (op->>'r')::bigint END;
                        IF NOT satisfied THEN
                            RAISE EXCEPTION USING ERRCODE = 'RMLC1', MESSAGE = jsonb_build_object(
                                'index', item.ordinality - 1, 'found', CASE WHEN present THEN cur END)::text;
                        END IF;
                    END IF;
                    IF op->>'o' = 'put' THEN
                        INSERT INTO ml_kv (namespace, key, value, revision) VALUES (op->>'n', op->>'k', op->>'v', rev)
                        ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, revision = excluded.revision;
                    ELSIF op->>'o' = 'delete' THEN
                        DELETE FROM ml_kv WHERE namespace = op->>'n' AND key = op->>'k';
                    END IF;
                END LOOP;
                RETURN rev;
            END
            $$
            """,
        ]),
        Migration(description: "ml_apply: big batches set by set", statements: [
            // Migration 5's loop, one statement per operation, keeps serving small batches and
            // batches whose outcome depends on the order of their operations, under a new name.
            "ALTER FUNCTION ml_apply(jsonb) RENAME TO ml_apply_each",
            // The operations of a batch as rows: index (from 0), op, namespace, key, value,
            // condition, revision; every statement below reads the batch through it.
            """
            CREATE FUNCTION ml_ops(ops jsonb)
            RETURNS TABLE (i bigint, o text, n text, k text, v text, c text, r bigint)
            LANGUAGE sql IMMUTABLE AS $$
                SELECT t.i - 1, t.o, t.n, t.k, t.v, t.c, t.r
                FROM ROWS FROM (jsonb_to_recordset(ops) AS (o text, n text, k text, v text, c text, r bigint))
                     WITH ORDINALITY AS t(o, n, k, v, c, r, i)
            $$
            """,
            // A statement per operation costs about 0.1 ms of server time here, which bounded a
            // busy queue (a job takes about ten operations). A big batch whose outcome does not
            // depend on the order of its operations is applied in five statements whatever its
            // size: lock and check every condition, insert the puts-if-absent (DO NOTHING, as
            // migration 5), delete, upsert. Order does not matter when each key is written at
            // most once and checked only before it is written: every check then reads the state
            // before the batch, as it would in order. The first failure in batch order is reported.
            """
            CREATE FUNCTION ml_apply(ops jsonb) RETURNS bigint LANGUAGE plpgsql
            SET search_path FROM CURRENT AS $$
            DECLARE
                rev bigint;
                unordered boolean;
                failed record;
                missing record;
            BEGIN
                IF jsonb_array_length(ops) <= 8 THEN
                    RETURN ml_apply_each(ops);
                END IF;
                SELECT bool_and(writes <= 1 AND (last_check IS NULL OR first_write IS NULL OR last_check < first_write))
                INTO unordered
                FROM (SELECT count(*) FILTER (WHERE o <> 'require') AS writes,
                             min(i) FILTER (WHERE o <> 'require') AS first_write,
                             max(i) FILTER (WHERE o = 'require' AND c <> 'none') AS last_check
                      FROM ml_ops(ops) GROUP BY n, k) AS per_key;
                IF NOT unordered THEN
                    RETURN ml_apply_each(ops);
                END IF;
                rev := nextval('ml_revision');

                -- Every condition but put-if-absent, checked on the locked rows.
                WITH checked AS (SELECT * FROM ml_ops(ops) WHERE c <> 'none' AND NOT (o = 'put' AND c = 'absent')),
                     locked AS (SELECT kv.namespace, kv.key, kv.revision FROM ml_kv kv
                                WHERE (kv.namespace, kv.key) IN (SELECT n, k FROM checked) FOR UPDATE)
                SELECT checked.i, locked.revision AS found INTO failed
                FROM checked LEFT JOIN locked ON locked.namespace = checked.n AND locked.key = checked.k
                WHERE NOT COALESCE(CASE checked.c
                    WHEN 'absent' THEN locked.key IS NULL
                    WHEN 'present' THEN locked.key IS NOT NULL
                    ELSE locked.revision = checked.r END, false)
                ORDER BY checked.i LIMIT 1;

                WITH wanted AS (SELECT * FROM ml_ops(ops) WHERE o = 'put' AND c = 'absent'),
                     inserted AS (INSERT INTO ml_kv (namespace, key, value, revision)
                                  SELECT n, k, v, rev FROM wanted ORDER BY n, k
                                  ON CONFLICT (namespace, key) DO NOTHING RETURNING namespace, key)
                SELECT wanted.i, wanted.n, wanted.k INTO missing FROM wanted
                WHERE NOT EXISTS (SELECT 1 FROM inserted WHERE inserted.namespace = wanted.n AND inserted.key = wanted.k)
                ORDER BY wanted.i LIMIT 1;

                IF missing.i IS NOT NULL AND (failed.i IS NULL OR missing.i < failed.i) THEN
                    RAISE EXCEPTION USING ERRCODE = 'RMLC1', MESSAGE = jsonb_build_object('index', missing.i, 'found',
                        (SELECT revision FROM ml_kv WHERE namespace = missing.n AND key = missing.k))::text;
                END IF;
                IF failed.i IS NOT NULL THEN
                    RAISE EXCEPTION USING ERRCODE = 'RMLC1', MESSAGE = jsonb_build_object(
                        'index', failed.i, 'found', failed.found)::text;
                END IF;

                DELETE FROM ml_kv kv USING ml_ops(ops) d
                WHERE d.o = 'delete' AND kv.namespace = d.n AND kv.key = d.k;
                INSERT INTO ml_kv (namespace, key, value, revision)
                SELECT n, k, v, rev FROM ml_ops(ops) WHERE o = 'put' AND c <> 'absent' ORDER BY n, k
                ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, revision = excluded.revision;
                RETURN rev;
            END
            $$
            """,
        ]),
        Migration(description: "ml_apply: rows found by their key, never by a scan", statements: [
            // With the batch as an estimated hundred rows, the planner locked the rows a big
            // batch checks by hashing it and scanning both partitions of ml_kv in full (logged
            // by auto_explain during a queue benchmark: 1,455 such statements of 2 ms or more
            // in one run), so each group commit cost time in proportion to every record and
            // event stored. A batch names each row by its primary key, so an index lookup per
            // row is always right; inside ml_apply only, the planner is told so.
            "ALTER FUNCTION ml_apply(jsonb) SET enable_seqscan = off",
            "ALTER FUNCTION ml_apply(jsonb) SET enable_hashjoin = off",
            "ALTER FUNCTION ml_apply(jsonb) SET enable_mergejoin = off",
        ]),
        // The statements are long (two tables, two write functions, the data move, the view):
        // they live in PostgresJobTableSQL, and are as frozen as the ones above.
        Migration(
            description: "ml_job and ml_job_event: the job queue's jobs in a typed table of their own, moved out of ml_kv",
            statements: PostgresJobTableSQL.migration),
        Migration(
            description: "ml_job_claim: a claim in one statement; jobs set aside get a status of their own",
            statements: PostgresJobClaimSQL.migration),
    ]

    /// The schema version this build writes.
    static var currentVersion: Int { migrations.count }

    /// Brings the schema up to date, or refuses one from a newer build.
    ///
    /// - Throws: ``MLPersistenceError/schemaTooNew(store:found:supported:)``
    ///   when `redml_migrations` records a version this build does not know.
    static func migrate(
        _ sql: PostgresSQL, tables: PostgresTables, storeName: String, upTo target: Int = currentVersion
    ) async throws {
        try await sql.transaction(isolation: "READ COMMITTED") { sql in
            // Serialises migrators of this schema across processes until commit.
            try await sql.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("redml.migrate." + tables.schema), 0))")
            let encoding = try await sql.one("SELECT current_setting('server_encoding')", as: String.self)
            guard encoding == "UTF8" else {
                throw MLPersistenceError.invalidArgument(
                    "database of \(storeName) uses encoding \(encoding ?? "?"); RedML needs UTF8 "
                        + "(CREATE DATABASE … ENCODING 'UTF8')")
            }
            // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE right even when the schema exists.
            let hasSchema = try await sql.one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(tables.schema))", as: Bool.self)
            if hasSchema != true {
                try await sql.execute("CREATE SCHEMA \(unescaped: tables.quotedSchema)")
            }
            let hasTable = try await sql.one("SELECT to_regclass(\(tables.migrations)) IS NOT NULL", as: Bool.self)
            if hasTable != true {
                try await sql.execute(
                    """
                    CREATE TABLE \(unescaped: tables.migrations) (
                        version integer PRIMARY KEY,
                        description text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """)
            }
            let found = try await sql.one(
                "SELECT coalesce(max(version), 0)::bigint FROM \(unescaped: tables.migrations)", as: Int64.self)
            let version = Int(found ?? 0)
            guard version <= currentVersion else {
                throw MLPersistenceError.schemaTooNew(store: storeName, found: version, supported: currentVersion)
            }
            guard version < target else { return }
            sql.logger.info(
                "migrating RedML schema",
                metadata: ["schema": "\(tables.schema)", "from": "\(version)", "to": "\(target)"])
            try await sql.execute("SET LOCAL search_path TO \(unescaped: tables.quotedSchema)")
            for index in version..<target {
                for statement in migrations[index].statements {
                    try await sql.execute(PostgresQuery(unsafeSQL: statement))
                }
                try await sql.execute(
                    """
                    INSERT INTO \(unescaped: tables.migrations) (version, description)
                    VALUES (\(index + 1), \(migrations[index].description))
                    """)
            }
        }
    }

    /// The schema version recorded in the database, 0 if it has none yet.
    static func version(_ sql: PostgresSQL, tables: PostgresTables) async throws -> Int {
        guard try await sql.one("SELECT to_regclass(\(tables.migrations)) IS NOT NULL", as: Bool.self) == true else {
            return 0
        }
        return Int(
            try await sql.one(
                "SELECT coalesce(max(version), 0)::bigint FROM \(unescaped: tables.migrations)", as: Int64.self) ?? 0)
    }
}
