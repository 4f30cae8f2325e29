//! The worker side of tasks: claiming for a node, and the transitions its messages cause. Every
//! transition names the expected state, attempt and node, so a stale message changes nothing.

use sqlx::PgConnection;
use uuid::Uuid;

/// A queued task that might fit a node (locked until the transaction ends).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    pub lang: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
}

/// Queued tasks of unpaused functions in a runtime the node has, oldest first, skipping rows
/// another replica is claiming.
pub async fn lock_candidates(
    conn: &mut PgConnection,
    langs: &[String],
    limit: i64,
) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as!(
        Candidate,
        "SELECT t.id, t.lang, t.timeout_s, t.cpu_count, t.mem_size_mb, t.network_latency_ms, t.privileged
         FROM tasks t JOIN functions f ON f.id = t.function_id
         WHERE t.status = 'queued' AND t.lang = ANY($1) AND NOT f.paused AND f.deleted_at IS NULL
           AND (t.not_before IS NULL OR t.not_before <= now())
         ORDER BY t.issued_at
         LIMIT $2
         FOR UPDATE OF t SKIP LOCKED",
        langs,
        limit
    )
    .fetch_all(conn)
    .await
}

/// An assigned task with everything the worker needs.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub id: Uuid,
    pub attempt: i32,
    pub function_id: Uuid,
    pub build_id: Uuid,
    pub lang: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
    pub request_method: String,
    pub request_query: String,
    pub request_headers: serde_json::Value,
    pub request_content_type: Option<String>,
    pub request_body: Vec<u8>,
    pub artifact_sha256: String,
    pub artifact_size: i64,
}

/// Moves locked candidates to `assigned` on `node_id` with a lease.
pub async fn assign(
    conn: &mut PgConnection,
    ids: &[Uuid],
    node_id: Uuid,
    lease_ms: i64,
) -> sqlx::Result<Vec<Assigned>> {
    sqlx::query_as!(
        Assigned,
        r#"UPDATE tasks t SET status = 'assigned', node_id = $2, assigned_at = clock_timestamp(),
                  lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
           FROM builds b JOIN artifacts a ON a.sha256 = b.artifact_sha256
           WHERE t.id = ANY($1) AND t.status = 'queued' AND b.id = t.build_id
           RETURNING t.id, t.attempt, t.function_id, t.build_id, t.lang, t.timeout_s, t.cpu_count, t.mem_size_mb,
                     t.network_latency_ms, t.privileged, t.request_method, t.request_query, t.request_headers,
                     t.request_content_type, t.request_body, a.sha256 AS artifact_sha256, a.size_bytes AS artifact_size"#,
        ids,
        node_id,
        lease_ms as f64
    )
    .fetch_all(conn)
    .await
}

/// `assigned` → `running`.
pub async fn mark_started(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    node_id: Uuid,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tasks SET status = 'running', started_at = now()
         WHERE id = $1 AND attempt = $2 AND node_id = $3 AND status = 'assigned'",
        id,
        attempt,
        node_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_progress(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    node_id: Uuid,
    percent: i16,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tasks SET progress = $4
         WHERE id = $1 AND attempt = $2 AND node_id = $3 AND status IN ('assigned', 'running')",
        id,
        attempt,
        node_id,
        percent
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The end of an attempt as stored.
#[derive(Debug)]
pub struct Finish<'a> {
    pub status: &'a str,
    pub response_status: Option<i32>,
    pub response_content_type: Option<&'a str>,
    pub response_body: Option<&'a [u8]>,
    pub error_kind: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub init_ms: i32,
    pub exec_ms: i32,
    pub warm: bool,
}

/// Records the end of the current attempt; false when the attempt is no longer current.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    node_id: Uuid,
    end: &Finish<'_>,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tasks SET status = $4, response_status = $5, response_content_type = $6, response_body = $7,
                error_kind = $8, error_message = $9, init_ms = $10, exec_ms = $11, warm = $12,
                progress = 100, finished_at = now(), lease_expires_at = NULL
         WHERE id = $1 AND attempt = $2 AND node_id = $3 AND status IN ('assigned', 'running')",
        id,
        attempt,
        node_id,
        end.status,
        end.response_status,
        end.response_content_type,
        end.response_body,
        end.error_kind,
        end.error_message,
        end.init_ms,
        end.exec_ms,
        end.warm
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Puts the current attempt back in the queue as attempt + 1 after a backoff (0.5 s doubling per
/// attempt, at most 30 s), or fails the task with `reason` once `max_attempts` is reached. False
/// when the attempt is no longer current.
pub async fn retry_or_fail(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    node_id: Uuid,
    reason: &str,
    message: &str,
    max_attempts: i32,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tasks SET
             status = CASE WHEN attempt >= $4 THEN 'failed' ELSE 'queued' END,
             attempt = CASE WHEN attempt >= $4 THEN attempt ELSE attempt + 1 END,
             node_id = CASE WHEN attempt >= $4 THEN node_id END,
             error_kind = CASE WHEN attempt >= $4 THEN $5 END,
             error_message = $6,
             finished_at = CASE WHEN attempt >= $4 THEN now() END,
             not_before = now() + make_interval(secs => least(30.0, 0.5 * power(2, attempt - 1))),
             assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, progress = 0
         WHERE id = $1 AND attempt = $2 AND node_id = $3 AND status IN ('assigned', 'running')",
        id,
        attempt,
        node_id,
        max_attempts,
        reason,
        message
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Re-queues (or fails as `lost`) the live tasks of nodes that are gone: disconnected for longer
/// than the grace period, or connected to a replica that has not beaten for that long (it died,
/// and the worker did not come back on another one). Any replica may run this; the conditional
/// update makes it safe to run everywhere.
pub async fn requeue_lost_nodes(
    conn: &mut PgConnection,
    grace_s: f64,
    max_attempts: i32,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE tasks t SET
             status = CASE WHEN t.attempt >= $2 THEN 'failed' ELSE 'queued' END,
             attempt = CASE WHEN t.attempt >= $2 THEN t.attempt ELSE t.attempt + 1 END,
             node_id = CASE WHEN t.attempt >= $2 THEN t.node_id END,
             error_kind = CASE WHEN t.attempt >= $2 THEN 'lost' END,
             error_message = 'the node running it disconnected',
             finished_at = CASE WHEN t.attempt >= $2 THEN now() END,
             assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, progress = 0
         FROM nodes n
         WHERE t.node_id = n.id AND t.status IN ('assigned', 'running')
           AND ((n.session_id IS NULL AND n.last_seen_at < now() - make_interval(secs => $1))
                OR (n.session_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM replicas r
                        WHERE r.id = n.replica_id AND r.beat_at > now() - make_interval(secs => $1)))
                OR n.deleted_at IS NOT NULL)",
        grace_s,
        max_attempts
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Heartbeat bookkeeping of one replica in one statement: every connected node's liveness and
/// latency, and the leases of the tasks each node reported running.
pub async fn record_heartbeats(
    conn: &mut PgConnection,
    nodes: &[Uuid],
    latencies: &[Option<i32>],
    lease_nodes: &[Uuid],
    lease_tasks: &[Uuid],
    lease_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"WITH touched AS (
               UPDATE nodes n SET last_seen_at = now(), latency_ms = coalesce(v.latency, n.latency_ms)
               FROM unnest($1::uuid[], $2::int4[]) AS v(id, latency) WHERE n.id = v.id
               RETURNING 1
           ), renewed AS (
               UPDATE tasks t SET lease_expires_at = now() + make_interval(secs => $5::float8 / 1000)
               FROM unnest($3::uuid[], $4::uuid[]) AS r(node_id, task_id)
               WHERE t.id = r.task_id AND t.node_id = r.node_id AND t.status IN ('assigned', 'running')
               RETURNING 1
           )
           SELECT (SELECT count(*) FROM touched) AS "touched!", (SELECT count(*) FROM renewed) AS "renewed!""#,
        nodes,
        latencies as &[Option<i32>],
        lease_nodes,
        lease_tasks,
        lease_ms as f64
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Re-queues (or fails as `lost`) tasks whose lease ran out: their worker stopped renewing them
/// (it vanished, or its replica did). Returns how many.
pub async fn sweep_expired_leases(conn: &mut PgConnection, max_attempts: i32) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE tasks t SET
             status = CASE WHEN t.attempt >= $1 THEN 'failed' ELSE 'queued' END,
             attempt = CASE WHEN t.attempt >= $1 THEN t.attempt ELSE t.attempt + 1 END,
             node_id = CASE WHEN t.attempt >= $1 THEN t.node_id END,
             error_kind = CASE WHEN t.attempt >= $1 THEN 'lost' END,
             error_message = 'the lease of its worker ran out',
             finished_at = CASE WHEN t.attempt >= $1 THEN now() END,
             assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, progress = 0
         WHERE t.status IN ('assigned', 'running') AND t.lease_expires_at < now()",
        max_attempts
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// The current attempt of a task and the node it is on, to tell a stale message from a forged one.
pub async fn current_attempt(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(i32, Option<Uuid>)>> {
    let row = sqlx::query!("SELECT attempt, node_id FROM tasks WHERE id = $1", id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| (row.attempt, row.node_id)))
}

/// After a worker's `hello`: re-queues (or fails as `lost`) the node's live tasks that the new
/// connection does not report, since no process of that node is running them any more.
pub async fn requeue_unreported(
    conn: &mut PgConnection,
    node_id: Uuid,
    reported: &[Uuid],
    max_attempts: i32,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE tasks t SET
             status = CASE WHEN t.attempt >= $3 THEN 'failed' ELSE 'queued' END,
             attempt = CASE WHEN t.attempt >= $3 THEN t.attempt ELSE t.attempt + 1 END,
             node_id = CASE WHEN t.attempt >= $3 THEN t.node_id END,
             error_kind = CASE WHEN t.attempt >= $3 THEN 'lost' END,
             error_message = 'its worker restarted without it',
             finished_at = CASE WHEN t.attempt >= $3 THEN now() END,
             assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, progress = 0
         WHERE t.node_id = $1 AND t.status IN ('assigned', 'running') AND NOT (t.id = ANY($2))",
        node_id,
        reported,
        max_attempts
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
