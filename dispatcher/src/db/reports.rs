//! Worker reports written in batches: the ends of attempts, `started` and `progress`, each
//! transition guarded by task, attempt, node and the states it moves from, one statement per
//! kind that the batch has (usually one). Run on `super::batch_pool`: each statement is planned
//! for its batch and finds its rows by primary key (its status test is `(…) IS TRUE` for that).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::tasks::TaskStatus;

/// Ends of attempts, column by column.
#[derive(Debug, Default)]
pub struct Finishes {
    pub id: Vec<Uuid>,
    pub attempt: Vec<i32>,
    pub node_id: Vec<Uuid>,
    pub status: Vec<TaskStatus>,
    pub response_status: Vec<Option<i32>>,
    pub content_type: Vec<Option<String>>,
    pub body: Vec<Option<Vec<u8>>>,
    pub error_kind: Vec<Option<String>>,
    pub error_message: Vec<Option<String>>,
    pub init_ms: Vec<i32>,
    pub exec_ms: Vec<i32>,
    pub warm: Vec<bool>,
    pub cpu_seconds: Vec<Option<f64>>,
    pub energy_wh: Vec<Option<f64>>,
    /// When `started` came in the same batch (it is folded into the end).
    pub started_at: Vec<Option<DateTime<Utc>>>,
}

/// `started` (with the latest progress, if any came in the same batch), column by column.
#[derive(Debug, Default)]
pub struct Starts {
    pub id: Vec<Uuid>,
    pub attempt: Vec<i32>,
    pub node_id: Vec<Uuid>,
    pub started_at: Vec<DateTime<Utc>>,
    pub progress: Vec<Option<i16>>,
}

/// `progress` alone, column by column.
#[derive(Debug, Default)]
pub struct Progresses {
    pub id: Vec<Uuid>,
    pub attempt: Vec<i32>,
    pub node_id: Vec<Uuid>,
    pub progress: Vec<i16>,
}

/// Which reports changed their task.
#[derive(Debug, Default)]
pub struct Applied {
    /// Ended tasks with the seconds from issue to end.
    pub finished: Vec<(Uuid, f64)>,
    /// Function and account of each ended task.
    pub owners: std::collections::HashMap<Uuid, (Uuid, Uuid)>,
    pub started: Vec<Uuid>,
    pub progressed: Vec<Uuid>,
}

/// Applies one batch; the three sets name distinct tasks, so the updates never meet.
pub async fn apply(
    conn: &mut PgConnection,
    finishes: &Finishes,
    starts: &Starts,
    progresses: &Progresses,
) -> sqlx::Result<Applied> {
    let mut applied = Applied::default();
    if !finishes.id.is_empty() {
        finish(conn, finishes, &mut applied).await?;
    }
    if !starts.id.is_empty() {
        applied.started = start(conn, starts).await?;
    }
    if !progresses.id.is_empty() {
        applied.progressed = progress(conn, progresses).await?;
    }
    Ok(applied)
}

async fn finish(
    conn: &mut PgConnection,
    finishes: &Finishes,
    applied: &mut Applied,
) -> sqlx::Result<()> {
    let statuses: Vec<&str> = finishes
        .status
        .iter()
        .map(|status| status.as_str())
        .collect();
    let rows = sqlx::query!(
        r#"UPDATE tasks t SET status = v.status, response_status = v.response_status,
                  response_content_type = v.content_type, response_body = v.body, error_kind = v.error_kind,
                  error_message = v.error_message, init_ms = v.init_ms, exec_ms = v.exec_ms, warm = v.warm,
                  cpu_seconds = v.cpu_seconds, energy_wh = v.energy_wh,
                  started_at = coalesce(t.started_at, v.started_at), progress = 100,
                  finished_at = clock_timestamp(), lease_expires_at = NULL
           FROM unnest($1::uuid[], $2::int4[], $3::uuid[], $4::text[], $5::int4[], $6::text[], $7::bytea[],
                       $8::text[], $9::text[], $10::int4[], $11::int4[], $12::bool[], $13::timestamptz[],
                       $14::float8[], $15::float8[])
                AS v(id, attempt, node_id, status, response_status, content_type, body, error_kind,
                     error_message, init_ms, exec_ms, warm, started_at, cpu_seconds, energy_wh)
           WHERE t.id = v.id AND t.attempt = v.attempt AND t.node_id = v.node_id
             AND (t.status IN ('assigned', 'running')) IS TRUE
           RETURNING t.id, extract(epoch FROM clock_timestamp() - t.issued_at)::float8 AS "seconds!",
                     t.function_id, t.account_id"#,
        &finishes.id,
        &finishes.attempt,
        &finishes.node_id,
        &statuses as &[&str],
        &finishes.response_status as &[Option<i32>],
        &finishes.content_type as &[Option<String>],
        &finishes.body as &[Option<Vec<u8>>],
        &finishes.error_kind as &[Option<String>],
        &finishes.error_message as &[Option<String>],
        &finishes.init_ms,
        &finishes.exec_ms,
        &finishes.warm,
        &finishes.started_at as &[Option<DateTime<Utc>>],
        &finishes.cpu_seconds as &[Option<f64>],
        &finishes.energy_wh as &[Option<f64>],
    )
    .fetch_all(conn)
    .await?;
    for row in rows {
        applied
            .owners
            .insert(row.id, (row.function_id, row.account_id));
        applied.finished.push((row.id, row.seconds));
    }
    Ok(())
}

async fn start(conn: &mut PgConnection, starts: &Starts) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"UPDATE tasks t SET status = 'running', started_at = v.started_at,
                  progress = coalesce(v.progress, t.progress)
           FROM unnest($1::uuid[], $2::int4[], $3::uuid[], $4::timestamptz[], $5::int2[])
                AS v(id, attempt, node_id, started_at, progress)
           WHERE t.id = v.id AND t.attempt = v.attempt AND t.node_id = v.node_id
             AND (t.status = 'assigned') IS TRUE
           RETURNING t.id"#,
        &starts.id,
        &starts.attempt,
        &starts.node_id,
        &starts.started_at,
        &starts.progress as &[Option<i16>],
    )
    .fetch_all(conn)
    .await
}

async fn progress(conn: &mut PgConnection, progresses: &Progresses) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"UPDATE tasks t SET progress = v.progress
           FROM unnest($1::uuid[], $2::int4[], $3::uuid[], $4::int2[]) AS v(id, attempt, node_id, progress)
           WHERE t.id = v.id AND t.attempt = v.attempt AND t.node_id = v.node_id
             AND (t.status IN ('assigned', 'running')) IS TRUE
           RETURNING t.id"#,
        &progresses.id,
        &progresses.attempt,
        &progresses.node_id,
        &progresses.progress,
    )
    .fetch_all(conn)
    .await
}
