//! Finding tasks by function, state, node and time, newest first (the dashboard's task list).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::tasks::TaskStatus;

/// What the task search filters on; `None` = any.
#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    pub function_id: Option<Uuid>,
    pub statuses: Option<Vec<String>>,
    pub node_id: Option<Uuid>,
    pub issued_from: Option<DateTime<Utc>>,
    pub issued_before: Option<DateTime<Utc>>,
    /// Only ids below this one (the previous page's last id).
    pub before_id: Option<Uuid>,
    /// Only ids from this one (derived from `issued_from`, so the primary key bounds the scan).
    pub first_id: Option<Uuid>,
}

/// A found task (no bodies).
#[derive(Debug, Clone)]
pub struct FoundTask {
    pub id: Uuid,
    pub function_id: Uuid,
    pub function_name: String,
    pub status: TaskStatus,
    pub attempt: i32,
    pub node_id: Option<Uuid>,
    pub response_status: Option<i32>,
    pub error_kind: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exec_ms: Option<i32>,
}

/// The account's tasks matching `filter`, newest first, at most `limit`.
pub async fn search(
    conn: &mut PgConnection,
    account_id: Uuid,
    filter: &TaskFilter,
    limit: i64,
) -> sqlx::Result<Vec<FoundTask>> {
    sqlx::query_as!(
        FoundTask,
        r#"SELECT t.id, t.function_id, f.name AS function_name, t.status AS "status: TaskStatus", t.attempt,
                  t.node_id, t.response_status, t.error_kind, t.issued_at, t.assigned_at, t.finished_at, t.exec_ms
           FROM tasks t JOIN functions f ON f.id = t.function_id
           WHERE t.account_id = $1
             AND ($2::uuid IS NULL OR t.function_id = $2)
             AND ($3::text[] IS NULL OR t.status = ANY($3))
             AND ($4::uuid IS NULL OR t.node_id = $4)
             AND ($5::timestamptz IS NULL OR t.issued_at >= $5)
             AND ($6::timestamptz IS NULL OR t.issued_at < $6)
             AND ($7::uuid IS NULL OR t.id < $7)
             AND ($8::uuid IS NULL OR t.id >= $8)
           ORDER BY t.id DESC LIMIT $9"#,
        account_id,
        filter.function_id,
        filter.statuses.as_deref(),
        filter.node_id,
        filter.issued_from,
        filter.issued_before,
        filter.before_id,
        filter.first_id,
        limit
    )
    .fetch_all(conn)
    .await
}
