//! Past attempts of a task (`task_attempts`, written by a trigger when an attempt is re-queued).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt: i32,
    pub node_id: Option<Uuid>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// The given-up attempts of `task` (the caller checked it is theirs), oldest first.
pub async fn past(conn: &mut PgConnection, task: Uuid) -> sqlx::Result<Vec<AttemptRow>> {
    sqlx::query_as!(
        AttemptRow,
        "SELECT attempt, node_id, assigned_at, started_at, ended_at, reason
         FROM task_attempts WHERE task_id = $1 ORDER BY attempt",
        task
    )
    .fetch_all(conn)
    .await
}
