/// The statements of the migration that lets PostgreSQL start job attempts
/// itself (`ml_job_claim`), and gives jobs set aside a status of their own.
///
/// Part of an append-only migration (``PostgresSchema/migrations``): never
/// edit these statements once shipped; append another migration instead.
enum PostgresJobClaimSQL {
    static let migration: [String] = setAside + [claim] + indexLookupsOnly

    /// Jobs set aside (their record could not be read) were left `queued` and
    /// not ready, which promotion took for jobs whose run-at time had come:
    /// it made them ready again, and the next claim set them aside again, for
    /// ever. As `set_aside` they match none of the queue's partial indexes.
    /// Records the data move of migration 8 found unreadable are set aside
    /// the same way (the same test of what every job has).
    private static let setAside: [String] = [
        """
        UPDATE ml_job SET status = 'set_aside', ready = false, lease_expires_at_ms = NULL
        WHERE status IN ('queued', 'running') AND NOT coalesce(
            (SELECT jsonb_typeof(v) = 'object' AND jsonb_typeof(v -> 'status') = 'string'
                    AND jsonb_typeof(v -> 'kind') = 'string' AND jsonb_typeof(v -> 'target') = 'string'
                    AND ml_json_bigint(v, 'created_at_ms') IS NOT NULL
             FROM (SELECT ml_try_jsonb(record) AS v) AS parsed),
            false)
        """
    ]

    /// Claims in one statement: picks up to `claim_limit` ready jobs of
    /// `claim_queue` (of `claim_kinds`, when not NULL) as a claim through
    /// `ml_job_write` would, and starts an attempt of each for `claim_worker`
    /// at `now_ms`, leased for `lease_ms`. Returns the claimed rows (key,
    /// record) in the order picked, with the one revision they now have.
    ///
    /// The record changes as `MLJob.startAttempt` and a transition with the
    /// reason `claimed` change it (the queue's tests compare the two): status
    /// `running`; attempt and event count one more (0 when missing); the
    /// worker; the lease's expiry; the start time unless it has one; the update
    /// time. Other fields are kept as they are; the text is `jsonb`'s. The
    /// event is the queue's too. A record that is not JSON, or whose attempt or
    /// event count is not an integer, fails the cast (class 22), and the caller
    /// claims through `ml_job_write` instead, which reads the records itself.
    private static let claim = """
        CREATE FUNCTION ml_job_claim(
            claim_queue text, claim_kinds text[], claim_limit integer, claim_worker text, now_ms bigint, lease_ms bigint
        ) RETURNS TABLE (claimed_key text, claimed_record text, claimed_revision bigint) LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        DECLARE
            rev bigint := nextval('ml_revision');
            lease_until bigint := now_ms + lease_ms;
            claimed_keys text[];
            claimed_records text[];
            event_seqs integer[];
            event_records text[];
            done bigint;
        BEGIN
            -- A claim lost in a crash only makes the job run again: the commit need not wait for the WAL.
            PERFORM set_config('synchronous_commit', 'off', true);
            WITH picked AS (
                SELECT j.key, j.priority, j.record::jsonb AS v FROM ml_job AS j
                WHERE j.queue = claim_queue AND j.status = 'queued' AND j.ready
                  AND (claim_kinds IS NULL OR j.kind = ANY (claim_kinds))
                ORDER BY j.priority DESC, j.key LIMIT claim_limit
                FOR UPDATE SKIP LOCKED
            ), started AS (
                SELECT p.key, p.priority, p.v, p.v -> 'status' AS was,
                       coalesce((p.v ->> 'attempt')::integer, 0) + 1 AS attempt,
                       coalesce((p.v ->> 'event_count')::integer, 0) + 1 AS sequence
                FROM picked AS p
            ), updated AS (
                UPDATE ml_job AS j
                SET status = 'running', ready = false, lease_expires_at_ms = lease_until, revision = rev,
                    record = (s.v || jsonb_build_object(
                        'status', 'running', 'attempt', s.attempt, 'worker', claim_worker,
                        'lease_expires_at_ms', lease_until,
                        'started_at_ms', CASE WHEN jsonb_typeof(s.v -> 'started_at_ms') = 'number'
                                              THEN s.v -> 'started_at_ms' ELSE to_jsonb(now_ms) END,
                        'updated_at_ms', now_ms, 'event_count', s.sequence))::text
                FROM started AS s
                WHERE j.key = s.key
                RETURNING j.key, j.record, s.priority, s.sequence,
                          jsonb_build_object('at_ms', now_ms, 'attempt', s.attempt, 'detail', NULL, 'from', s.was,
                                             'reason', 'claimed', 'sequence', s.sequence, 'to', 'running',
                                             'worker', claim_worker)::text AS event
            )
            SELECT array_agg(u.key ORDER BY u.priority DESC, u.key), array_agg(u.record ORDER BY u.priority DESC, u.key),
                   array_agg(u.sequence ORDER BY u.priority DESC, u.key), array_agg(u.event ORDER BY u.priority DESC, u.key)
            INTO claimed_keys, claimed_records, event_seqs, event_records
            FROM updated AS u;
            IF claimed_keys IS NULL THEN
                RETURN;
            END IF;
            -- An event whose sequence the job's history already has: a conflict on that job, as in ml_job_write.
            INSERT INTO ml_job_event (key, sequence, record)
            SELECT * FROM unnest(claimed_keys, event_seqs, event_records)
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS done = ROW_COUNT;
            IF done < cardinality(claimed_keys) THEN
                RAISE EXCEPTION USING ERRCODE = 'RMLJ1', MESSAGE = jsonb_build_object(
                    'key', ml_job_event_taken(claimed_keys, event_seqs, event_records), 'found', NULL,
                    'event', true)::text;
            END IF;
            RETURN QUERY SELECT c.key, c.record, rev FROM unnest(claimed_keys, claimed_records) AS c(key, record);
        END
        $$
        """

    /// As in the other job functions: every row written is named by its key.
    /// And in all three, plans are made once per session: with its arrays as
    /// parameters, a statement looked cheaper planned for each call's values,
    /// so it was planned again on every call (`pg_stat_statements`: 0.3 to 0.4
    /// ms per `ml_job_write` of one or two rows), for the plan it always gets.
    private static let indexLookupsOnly: [String] =
        ["enable_seqscan", "enable_hashjoin", "enable_mergejoin"].map { "ALTER FUNCTION ml_job_claim SET \($0) = off" }
        + ["ml_job_insert", "ml_job_write", "ml_job_claim"].map {
            "ALTER FUNCTION \($0) SET plan_cache_mode = force_generic_plan"
        }
}
