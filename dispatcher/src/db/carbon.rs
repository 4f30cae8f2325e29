//! The carbon columns of tasks: the deferral of a task (`defer_until`, with the hold in
//! `not_before`) and the grid intensity its finished attempt ran at.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What a task says about carbon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCarbonRow {
    /// `Prefer: defer`: finish by then.
    pub defer_until: Option<DateTime<Utc>>,
    /// Held until then (a greener window, or a retry's backoff).
    pub not_before: Option<DateTime<Utc>>,
    /// gCO₂e/kWh where its finished attempt ran.
    pub carbon_intensity: Option<i32>,
}

/// The carbon columns of one of the account's tasks.
pub async fn find_task_carbon(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<TaskCarbonRow>> {
    sqlx::query_as!(
        TaskCarbonRow,
        "SELECT defer_until, not_before, carbon_intensity FROM tasks WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// Records the intensity each finished attempt ran at (one statement for a batch of results);
/// an attempt that is no longer the task's current one is left alone.
pub async fn record_intensities(
    conn: &mut PgConnection,
    tasks: &[Uuid],
    attempts: &[i32],
    intensities: &[i32],
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE tasks t SET carbon_intensity = v.intensity
         FROM unnest($1::uuid[], $2::int4[], $3::int4[]) AS v(id, attempt, intensity)
         WHERE t.id = v.id AND t.attempt = v.attempt",
        tasks,
        attempts,
        intensities
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
