//! Tasks as the API reads them, and cancellation. Creation is in `submissions`, the worker's
//! transitions in `assignments` and `reports`, re-queueing in `requeue`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::tasks::TaskStatus;

/// A task as `GET /v1/task/{id}` shows it (no bodies).
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: Uuid,
    pub function_id: Uuid,
    pub lang: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
    pub volunteers: bool,
    pub status: TaskStatus,
    pub attempt: i32,
    pub node_id: Option<Uuid>,
    pub progress: i16,
    pub response_status: Option<i32>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub init_ms: Option<i32>,
    pub exec_ms: Option<i32>,
    pub warm: Option<bool>,
    pub issued_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// CPU time and energy of the attempt that ended it, as its worker measured them.
    pub cpu_seconds: Option<f64>,
    pub energy_wh: Option<f64>,
}

pub async fn find(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"SELECT id, function_id, lang, timeout_s, cpu_count, mem_size_mb, network_latency_ms, privileged, volunteers,
                status AS "status: TaskStatus", attempt, node_id, progress, response_status, error_kind, error_message, init_ms, exec_ms, warm,
                issued_at, assigned_at, started_at, finished_at, cpu_seconds, energy_wh
         FROM tasks WHERE id = $1 AND account_id = $2"#,
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// A page of the account's tasks after `cursor`, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    account_id: Uuid,
    function_id: Option<Uuid>,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"SELECT id, function_id, lang, timeout_s, cpu_count, mem_size_mb, network_latency_ms, privileged, volunteers,
                status AS "status: TaskStatus", attempt, node_id, progress, response_status, error_kind, error_message, init_ms, exec_ms, warm,
                issued_at, assigned_at, started_at, finished_at, cpu_seconds, energy_wh
         FROM tasks
         WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2) AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4"#,
        account_id,
        function_id,
        cursor,
        limit
    )
    .fetch_all(conn)
    .await
}

/// What `/result` replays.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    pub status: TaskStatus,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    /// How the attempt ran, when the output came straight from its worker (before it is
    /// written); `None` when read from the database.
    pub run: Option<EarlyRun>,
}

/// What a worker's result says of its run, handed to this replica's waiters with the output.
#[derive(Debug, Clone, Copy)]
pub struct EarlyRun {
    pub node_id: Uuid,
    pub init_ms: i32,
    pub exec_ms: i32,
    pub warm: bool,
    /// When the node was given the attempt.
    pub given_at: std::time::Instant,
}

pub async fn output(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<TaskOutput>> {
    let row = sqlx::query!(
        r#"SELECT status AS "status: TaskStatus", response_status, response_content_type, response_body, error_kind, error_message
         FROM tasks WHERE id = $1 AND account_id = $2"#,
        id,
        account_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| TaskOutput {
        status: row.status,
        response_status: row.response_status,
        response_content_type: row.response_content_type,
        response_body: row.response_body,
        error_kind: row.error_kind,
        error_message: row.error_message,
        run: None,
    }))
}

/// Task counters of a function for its `metrics`.
pub async fn function_metrics(
    conn: &mut PgConnection,
    function_id: Uuid,
) -> sqlx::Result<[i64; 4]> {
    let row = sqlx::query!(
        r#"SELECT
             count(*) FILTER (WHERE issued_at >= date_trunc('day', now())) AS "today!",
             count(*) FILTER (WHERE status IN ('queued', 'assigned', 'running')) AS "pending!",
             count(*) FILTER (WHERE issued_at >= now() - interval '7 days') AS "week!",
             count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'timed_out')) AS "completed!"
           FROM tasks WHERE function_id = $1"#,
        function_id
    )
    .fetch_one(conn)
    .await?;
    Ok([row.today, row.pending, row.week, row.completed])
}

/// Cancels a live task; false when it does not exist (for this account) or already ended. The
/// database notifies the replica holding the worker's socket.
pub async fn cancel(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tasks SET status = 'cancelled', finished_at = now(), error_kind = 'cancelled',
                error_message = 'cancelled by the caller'
         WHERE id = $1 AND account_id = $2 AND status IN ('queued', 'assigned', 'running')",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
