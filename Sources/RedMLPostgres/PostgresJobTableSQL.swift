/// The statements of the migration that gives the job queue a table of its
/// own (`ml_job`, `ml_job_event`), moves the jobs of the key-value layout
/// into it, and points the `ml_jobs` view at it.
///
/// Part of an append-only migration (``PostgresSchema/migrations``): never
/// edit these statements once shipped; append another migration instead.
enum PostgresJobTableSQL {
    static let migration: [String] = tables + functions + dataMove + view

    /// The tables and their indexes.
    private static let tables: [String] = [
        // Keys sort bytewise (COLLATE "C") as in ml_kv, so pages come in the order of every backend.
        // Every claim, lease renewal and completion rewrites a row: fillfactor 70 leaves room for
        // the new version on the same page (a HOT update when no indexed column changes), and
        // autovacuum reclaims dead versions after 1 % of the table changed instead of 20 %, so
        // the table's size follows the live jobs plus retention, not the number ever run.
        """
        CREATE TABLE ml_job (
            key text COLLATE "C" PRIMARY KEY,
            queue text COLLATE "C" NOT NULL,
            kind text COLLATE "C" NOT NULL,
            status text COLLATE "C" NOT NULL,
            priority integer NOT NULL,
            run_at_ms bigint NOT NULL,
            ready boolean NOT NULL,
            lease_expires_at_ms bigint,
            finished_at_ms bigint,
            unique_key text COLLATE "C",
            record text NOT NULL,
            revision bigint NOT NULL
        ) WITH (
            fillfactor = 70,
            autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
            autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_insert_threshold = 1000,
            autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
            autovacuum_vacuum_cost_delay = 0
        )
        """,
        // Each index holds only the rows one operation looks for, so it stays as small as that set.
        // Claims: a queue's ready jobs, highest priority first, oldest key first within one.
        "CREATE INDEX ml_job_claims ON ml_job (queue, priority DESC, key) WHERE status = 'queued' AND ready",
        // Promotion: queued jobs waiting for their run-at time, earliest first.
        "CREATE INDEX ml_job_promotion ON ml_job (run_at_ms) WHERE status = 'queued' AND NOT ready",
        // Rescue: running jobs by lease expiry.
        "CREATE INDEX ml_job_leases ON ml_job (lease_expires_at_ms) WHERE status = 'running'",
        // Retention: finished jobs, oldest first.
        "CREATE INDEX ml_job_retention ON ml_job (finished_at_ms, key) WHERE finished_at_ms IS NOT NULL",
        // Only one live job holds a uniqueness key; a finished one gives it up.
        """
        CREATE UNIQUE INDEX ml_job_unique ON ml_job (unique_key)
        WHERE unique_key IS NOT NULL AND status IN ('queued', 'running')
        """,
        // No foreign key to ml_job: pruning deletes both, and an insert need not look the job up.
        """
        CREATE TABLE ml_job_event (
            key text COLLATE "C" NOT NULL,
            sequence integer NOT NULL,
            record text NOT NULL,
            PRIMARY KEY (key, sequence)
        ) WITH (autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_insert_scale_factor = 0.05)
        """,
        // A JSON number as bigint (rounded); NULL when missing, not a number or out of range.
        """
        CREATE FUNCTION ml_json_bigint(doc jsonb, field text) RETURNS bigint
        LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE WHEN jsonb_typeof(doc -> field) = 'number'
                             AND abs((doc ->> field)::numeric) < 9000000000000000000
                        THEN round((doc ->> field)::numeric)::bigint END
        $$
        """,
    ]

    /// The two writes that must be one statement each: inserting jobs and
    /// writing them conditionally.
    ///
    /// Rows arrive as parallel arrays (one element per job). Arrays cannot
    /// carry NULL from the client, so a missing time is bigint's minimum
    /// (`NULLIF`) and a missing uniqueness key is flagged in `has_unique`.
    /// Failures raise SQLSTATEs the store turns into errors
    /// (``PostgresJobTableErrors``), with a JSON message:
    /// - `RMLJ1` `{"key", "found", "event"}`: a conditional write found its row at
    ///   another revision or gone, or its event's sequence already taken;
    /// - `RMLJ2` `{"key", "found"}`: an inserted job's key is taken;
    /// - `RMLJ3` `{"key", "unique_key", "holder", "found"}`: another live job holds a
    ///   uniqueness key.
    ///
    /// Both take one revision (`nextval`) for every row they write. Inside
    /// them the planner is told to find rows by index, as for `ml_apply`
    /// (migration 7): every row is named by its key.
    private static let functions: [String] = [
        // After an insert of events skipped some, the key of the first one (in the caller's
        // order) whose (key, sequence) holds another record: the skipped ones. (An identical
        // record left there earlier cannot be told from this insert's; then the first key.)
        // Only on that rare path: finding it with the inserted rows at hand would cost every call.
        """
        CREATE FUNCTION ml_job_event_taken(event_keys text[], event_seqs integer[], event_records text[])
        RETURNS text LANGUAGE sql STABLE
        SET search_path FROM CURRENT AS $$
            SELECT coalesce((SELECT e.key FROM unnest(event_keys, event_seqs, event_records) WITH ORDINALITY
                                                AS e(key, seq, record, i)
                             JOIN ml_job_event AS x ON x.key = e.key AND x.sequence = e.seq
                             WHERE x.record IS DISTINCT FROM e.record
                             ORDER BY e.i LIMIT 1),
                            event_keys[1])
        $$
        """,
        """
        CREATE FUNCTION ml_job_insert(
            keys text[], queues text[], kinds text[], statuses text[], priorities integer[], run_ats bigint[],
            readies boolean[], leases bigint[], finisheds bigint[], has_unique boolean[], unique_keys text[],
            records text[], event_keys text[], event_seqs integer[], event_records text[], channel text, topic text
        ) RETURNS bigint LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        DECLARE
            rev bigint := nextval('ml_revision');
            done bigint;
            missing record;
            holder record;
        BEGIN
            -- Without a conflict target DO NOTHING covers both unique indexes: the key and a live
            -- job's uniqueness key. It waits for a racing insert not yet committed, then skips.
            INSERT INTO ml_job (key, queue, kind, status, priority, run_at_ms, ready, lease_expires_at_ms,
                                finished_at_ms, unique_key, record, revision)
            SELECT t.key, t.queue, t.kind, t.status, t.priority, t.run_at_ms, t.ready,
                   NULLIF(t.lease, -9223372036854775808), NULLIF(t.finished, -9223372036854775808),
                   CASE WHEN t.has_unique THEN t.unique_key END, t.record, rev
            FROM unnest(keys, queues, kinds, statuses, priorities, run_ats, readies, leases, finisheds, has_unique,
                        unique_keys, records)
                 AS t(key, queue, kind, status, priority, run_at_ms, ready, lease, finished, has_unique, unique_key,
                      record)
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS done = ROW_COUNT;
            IF done < cardinality(keys) THEN
                -- The first job, in the caller's order, that is not this statement's.
                SELECT w.key, w.has_unique, w.unique_key, j.revision INTO missing
                FROM unnest(keys, has_unique, unique_keys) WITH ORDINALITY AS w(key, has_unique, unique_key, i)
                LEFT JOIN ml_job AS j ON j.key = w.key
                WHERE j.revision IS DISTINCT FROM rev
                ORDER BY w.i LIMIT 1;
                IF missing.revision IS NOT NULL THEN
                    RAISE EXCEPTION USING ERRCODE = 'RMLJ2', MESSAGE = jsonb_build_object(
                        'key', missing.key, 'found', missing.revision)::text;
                END IF;
                IF missing.has_unique THEN
                    SELECT key, revision INTO holder FROM ml_job
                    WHERE unique_key = missing.unique_key AND status IN ('queued', 'running') AND revision <> rev;
                    IF FOUND THEN
                        RAISE EXCEPTION USING ERRCODE = 'RMLJ3', MESSAGE = jsonb_build_object(
                            'key', missing.key, 'unique_key', missing.unique_key, 'holder', holder.key,
                            'found', holder.revision)::text;
                    END IF;
                END IF;
                -- What made the insert skip the job is gone by now (the row holding its key was
                -- deleted, or the holder of its uniqueness key finished): the caller runs it all again.
                RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
                    MESSAGE = 'a job was skipped for a row that is gone now';
            END IF;
            -- History of an earlier job under a new job's key is a conflict on that key, not a
            -- unique violation, which callers would retry as a lost race until they gave up.
            INSERT INTO ml_job_event (key, sequence, record)
            SELECT * FROM unnest(event_keys, event_seqs, event_records)
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS done = ROW_COUNT;
            IF done < cardinality(event_keys) THEN
                RAISE EXCEPTION USING ERRCODE = 'RMLJ2', MESSAGE = jsonb_build_object(
                    'key', ml_job_event_taken(event_keys, event_seqs, event_records), 'found', NULL)::text;
            END IF;
            IF topic IS NOT NULL THEN
                -- Delivered when (and only if) the statement's transaction commits.
                PERFORM pg_notify(channel, topic);
            END IF;
            RETURN rev;
        END
        $$
        """,
        """
        CREATE FUNCTION ml_job_write(
            keys text[], expected bigint[], queues text[], kinds text[], statuses text[], priorities integer[],
            run_ats bigint[], readies boolean[], leases bigint[], finisheds bigint[], has_unique boolean[],
            unique_keys text[], records text[], event_keys text[], event_seqs integer[], event_records text[]
        ) RETURNS bigint LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        DECLARE
            rev bigint := nextval('ml_revision');
            done bigint;
            updated bigint;
            taking boolean;
            failed record;
        BEGIN
            -- A job made live again with a uniqueness key that another live job (not written
            -- here) holds would fail the update on ml_job_unique with a unique violation,
            -- which callers retry as a lost race: report it as the key-value layout did, as
            -- a taken job_unique entry.
            SELECT w.key, w.unique_key, h.key AS holder, h.revision INTO failed
            FROM unnest(keys, statuses, has_unique, unique_keys) WITH ORDINALITY
                 AS w(key, status, has_unique, unique_key, i)
            JOIN ml_job AS h ON h.unique_key = w.unique_key AND h.status IN ('queued', 'running')
            WHERE w.has_unique AND w.status IN ('queued', 'running') AND h.key <> ALL (keys)
            ORDER BY w.i LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'RMLJ3', MESSAGE = jsonb_build_object(
                    'key', failed.key, 'unique_key', failed.unique_key, 'holder', failed.holder,
                    'found', failed.revision)::text;
            END IF;
            -- A row that moved on since its writer read it is not updated (a concurrent writer's
            -- update is waited for, and the revision checked again on its result). The unique
            -- index is checked row by row, so the rows that take a live uniqueness key are
            -- updated in a second pass, after the others, which may give one up in the same
            -- call; usually there are none, and the second pass does not run.
            done := 0;
            FOREACH taking IN ARRAY ARRAY[false, true] LOOP
                EXIT WHEN done = cardinality(keys);
                UPDATE ml_job AS j
                SET queue = t.queue, kind = t.kind, status = t.status, priority = t.priority, run_at_ms = t.run_at_ms,
                    ready = t.ready, lease_expires_at_ms = NULLIF(t.lease, -9223372036854775808),
                    finished_at_ms = NULLIF(t.finished, -9223372036854775808),
                    unique_key = CASE WHEN t.has_unique THEN t.unique_key END, record = t.record, revision = rev
                FROM unnest(keys, expected, queues, kinds, statuses, priorities, run_ats, readies, leases, finisheds,
                            has_unique, unique_keys, records)
                     AS t(key, expected, queue, kind, status, priority, run_at_ms, ready, lease, finished, has_unique,
                          unique_key, record)
                WHERE j.key = t.key AND j.revision = t.expected
                  AND (t.has_unique AND t.status IN ('queued', 'running')) = taking;
                GET DIAGNOSTICS updated = ROW_COUNT;
                done := done + updated;
            END LOOP;
            IF done < cardinality(keys) THEN
                -- The first write, in the caller's order, whose row the updates left alone.
                SELECT w.key, j.revision INTO failed
                FROM unnest(keys) WITH ORDINALITY AS w(key, i)
                LEFT JOIN ml_job AS j ON j.key = w.key
                WHERE j.revision IS DISTINCT FROM rev
                ORDER BY w.i LIMIT 1;
                RAISE EXCEPTION USING ERRCODE = 'RMLJ1', MESSAGE = jsonb_build_object(
                    'key', failed.key, 'found', failed.revision, 'event', false)::text;
            END IF;
            -- An event whose sequence the job's history already has: a conflict on that job.
            INSERT INTO ml_job_event (key, sequence, record)
            SELECT * FROM unnest(event_keys, event_seqs, event_records)
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS done = ROW_COUNT;
            IF done < cardinality(event_keys) THEN
                RAISE EXCEPTION USING ERRCODE = 'RMLJ1', MESSAGE = jsonb_build_object(
                    'key', ml_job_event_taken(event_keys, event_seqs, event_records), 'found', NULL,
                    'event', true)::text;
            END IF;
            RETURN rev;
        END
        $$
        """,
    ] + indexLookupsOnly

    /// Inside the job functions the planner may only find rows by index, as
    /// inside `ml_apply`: every row they touch is named by its key.
    private static let indexLookupsOnly: [String] = ["ml_job_insert", "ml_job_write"].flatMap { function in
        ["enable_seqscan", "enable_hashjoin", "enable_mergejoin"].map { "ALTER FUNCTION \(function) SET \($0) = off" }
    }

    /// Moves the jobs of the key-value layout (records, history and the
    /// queue's index entries) into the tables.
    private static let dataMove: [String] = [
        // A record the queue could not read (not JSON, or without the fields every job has) is
        // moved as it was, with what can be read of it, and is never ready: listings still show
        // it and claims never pick it. Of live jobs sharing a uniqueness key (the key-value
        // layout never let that happen), the first keeps it.
        """
        WITH entries AS (
            SELECT key, value, revision, ml_try_jsonb(value) AS v FROM ml_kv WHERE namespace = 'jobs'
        ), fields AS (
            SELECT key, value, revision, v,
                   coalesce(jsonb_typeof(v) = 'object' AND jsonb_typeof(v -> 'status') = 'string'
                            AND jsonb_typeof(v -> 'kind') = 'string' AND jsonb_typeof(v -> 'target') = 'string'
                            AND ml_json_bigint(v, 'created_at_ms') IS NOT NULL, false) AS readable,
                   CASE WHEN jsonb_typeof(v -> 'status') = 'string' THEN v ->> 'status' ELSE 'queued' END AS status,
                   CASE WHEN jsonb_typeof(v -> 'queue') = 'string' THEN v ->> 'queue' ELSE 'default' END AS queue,
                   CASE WHEN jsonb_typeof(v -> 'kind') = 'string' THEN v ->> 'kind' ELSE '' END AS kind,
                   coalesce(CASE WHEN ml_json_bigint(v, 'priority') BETWEEN -2147483648 AND 2147483647
                                 THEN ml_json_bigint(v, 'priority')::integer END, 0) AS priority,
                   coalesce(ml_json_bigint(v, 'run_at_ms'), ml_json_bigint(v, 'created_at_ms'), 0) AS run_at_ms,
                   CASE WHEN jsonb_typeof(v -> 'unique_key') = 'string' THEN v ->> 'unique_key' END AS unique_key
            FROM entries
        ), ranked AS (
            SELECT *, status IN ('queued', 'running') AS live,
                   row_number() OVER (PARTITION BY unique_key, status IN ('queued', 'running') ORDER BY key) AS rank
            FROM fields
        )
        INSERT INTO ml_job (key, queue, kind, status, priority, run_at_ms, ready, lease_expires_at_ms, finished_at_ms,
                            unique_key, record, revision)
        SELECT key, queue, kind, status, priority, run_at_ms,
               readable AND status = 'queued' AND run_at_ms <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
               CASE WHEN status = 'running' THEN ml_json_bigint(v, 'lease_expires_at_ms') END,
               CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN ml_json_bigint(v, 'finished_at_ms') END,
               CASE WHEN NOT live OR rank = 1 THEN unique_key END,
               value, revision
        FROM ranked
        """,
        // History keys are `<job key>/<sequence>` (8 digits, more past 99,999,999).
        """
        INSERT INTO ml_job_event (key, sequence, record)
        SELECT m[1], m[2]::integer, value
        FROM (SELECT regexp_match(key, '^(.+)/([0-9]{1,9})$') AS m, value FROM ml_kv WHERE namespace = 'job_history')
            AS history
        WHERE m IS NOT NULL
        ON CONFLICT DO NOTHING
        """,
        // The records, their history and the queue's index entries now live in the tables.
        """
        DELETE FROM ml_kv
        WHERE namespace IN ('jobs', 'job_ready', 'job_scheduled', 'job_leases', 'job_finished', 'job_unique',
                            'job_history')
        """,
    ]

    /// The operator view, with the columns it had, over the table.
    private static let view: [String] = [
        "DROP VIEW ml_jobs",
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
        FROM (SELECT key, ml_try_jsonb(record) AS v, revision FROM ml_job) AS entries
        """,
    ]
}
