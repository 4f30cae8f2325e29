//! Task history: filtered pages of the task list, the CSV export, and retention.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::tasks::TaskRow;
use crate::tasks::TaskStatus;

/// Which tasks a list or export shows.
#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    pub function_id: Option<Uuid>,
    /// A lifecycle state (`succeeded`, …).
    pub state: Option<String>,
    /// The function's HTTP status.
    pub http_status: Option<i32>,
    /// Issued at or after.
    pub since: Option<DateTime<Utc>>,
    /// Issued before.
    pub until: Option<DateTime<Utc>>,
    /// Only tasks a schedule started.
    pub schedule_id: Option<Uuid>,
}

/// A page of the account's tasks after `cursor` (by id, so oldest first).
pub async fn list(
    conn: &mut PgConnection,
    account_id: Uuid,
    filter: &TaskFilter,
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
           AND ($5::text IS NULL OR status = $5) AND ($6::int4 IS NULL OR response_status = $6)
           AND ($7::timestamptz IS NULL OR issued_at >= $7) AND ($8::timestamptz IS NULL OR issued_at < $8)
           AND ($9::uuid IS NULL OR id IN (SELECT task_id FROM schedule_runs WHERE schedule_id = $9 AND task_id IS NOT NULL))
         ORDER BY id LIMIT $4"#,
        account_id,
        filter.function_id,
        cursor,
        limit,
        filter.state,
        filter.http_status,
        filter.since,
        filter.until,
        filter.schedule_id
    )
    .fetch_all(conn)
    .await
}

/// Whether the function (live or deleted) is the account's: deleted functions keep their history.
pub async fn function_owned(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM functions WHERE id = $1 AND account_id = $2) AS "owned!""#,
        id,
        account_id
    )
    .fetch_one(conn)
    .await
}

/// One CSV row.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub status: TaskStatus,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
}

/// A page of a function's tasks for the export, after `cursor`.
pub async fn export_page(
    conn: &mut PgConnection,
    account_id: Uuid,
    filter: &TaskFilter,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ExportRow>> {
    sqlx::query_as!(
        ExportRow,
        r#"SELECT id, issued_at, status AS "status: TaskStatus", response_status, response_content_type, response_body
         FROM tasks
         WHERE account_id = $1 AND function_id = $2 AND ($3::uuid IS NULL OR id > $3)
           AND ($5::timestamptz IS NULL OR issued_at >= $5) AND ($6::timestamptz IS NULL OR issued_at < $6)
           AND ($7::uuid IS NULL OR id IN (SELECT task_id FROM schedule_runs WHERE schedule_id = $7 AND task_id IS NOT NULL))
         ORDER BY id LIMIT $4"#,
        account_id,
        filter.function_id,
        cursor,
        limit,
        filter.since,
        filter.until,
        filter.schedule_id
    )
    .fetch_all(conn)
    .await
}

/// Deletes up to `batch` finished tasks issued before `cutoff` (a time-ordered id: task ids are
/// UUIDv7, so the primary key finds them without another index on the hot table); returns how
/// many.
pub async fn delete_finished_before(
    conn: &mut PgConnection,
    cutoff: Uuid,
    batch: i64,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "DELETE FROM tasks WHERE id IN (
             SELECT id FROM tasks
             WHERE id < $1 AND status IN ('succeeded', 'failed', 'timed_out', 'cancelled')
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)",
        cutoff,
        batch
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
