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

impl<'a> Finish<'a> {
    /// An end without a response from the function (timeout, execution failure).
    pub fn without_response(
        status: &'a str,
        kind: &'a str,
        message: &'a str,
        init_ms: i32,
        exec_ms: i32,
        warm: bool,
    ) -> Self {
        Finish {
            status,
            response_status: None,
            response_content_type: None,
            response_body: None,
            error_kind: Some(kind),
            error_message: Some(message),
            init_ms,
            exec_ms,
            warm,
        }
    }
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
