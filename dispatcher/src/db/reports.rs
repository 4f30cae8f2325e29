//! Worker reports written in batches: the ends of attempts, `started` and `progress`, each
//! transition guarded by task, attempt, node and the states it moves from, all in one
//! statement (one commit) per batch.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};
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
    let statuses: Vec<&str> = finishes
        .status
        .iter()
        .map(|status| status.as_str())
        .collect();
    let mut tx = conn.begin().await?;
    super::plan_by_id(&mut tx).await?;
    // `IS TRUE` keeps the status test from matching the status-partial indexes' predicates, so
    // each row is found by its primary key (see `plan_by_id`).
    let rows = sqlx::query!(
        r#"WITH finished AS (
               UPDATE tasks t SET status = v.status, response_status = v.response_status,
                      response_content_type = v.content_type, response_body = v.body, error_kind = v.error_kind,
                      error_message = v.error_message, init_ms = v.init_ms, exec_ms = v.exec_ms, warm = v.warm,
                      cpu_seconds = v.cpu_seconds, energy_wh = v.energy_wh,
                      started_at = coalesce(t.started_at, v.started_at), progress = 100,
                      finished_at = clock_timestamp(), lease_expires_at = NULL
               FROM unnest($1::uuid[], $2::int4[], $3::uuid[], $4::text[], $5::int4[], $6::text[], $7::bytea[],
                           $8::text[], $9::text[], $10::int4[], $11::int4[], $12::bool[], $13::timestamptz[],
                           $23::float8[], $24::float8[])
                    AS v(id, attempt, node_id, status, response_status, content_type, body, error_kind,
                         error_message, init_ms, exec_ms, warm, started_at, cpu_seconds, energy_wh)
               WHERE t.id = v.id AND t.attempt = v.attempt AND t.node_id = v.node_id
                 AND (t.status IN ('assigned', 'running')) IS TRUE
               RETURNING t.id, extract(epoch FROM clock_timestamp() - t.issued_at)::float8 AS seconds,
                         t.function_id, t.account_id
           ), started AS (
               UPDATE tasks t SET status = 'running', started_at = v.started_at,
                      progress = coalesce(v.progress, t.progress)
               FROM unnest($14::uuid[], $15::int4[], $16::uuid[], $17::timestamptz[], $18::int2[])
                    AS v(id, attempt, node_id, started_at, progress)
               WHERE t.id = v.id AND t.attempt = v.attempt AND t.node_id = v.node_id
                 AND (t.status = 'assigned') IS TRUE
               RETURNING t.id
           ), progressed AS (
               UPDATE tasks t SET progress = v.progress
               FROM unnest($19::uuid[], $20::int4[], $21::uuid[], $22::int2[]) AS v(id, attempt, node_id, progress)
               WHERE t.id = v.id AND t.attempt = v.attempt AND t.node_id = v.node_id
                 AND (t.status IN ('assigned', 'running')) IS TRUE
               RETURNING t.id
           )
           SELECT 'finished' AS "kind!", id AS "id!", seconds, function_id, account_id FROM finished
           UNION ALL SELECT 'started', id, NULL, NULL, NULL FROM started
           UNION ALL SELECT 'progressed', id, NULL, NULL, NULL FROM progressed"#,
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
        &starts.id,
        &starts.attempt,
        &starts.node_id,
        &starts.started_at,
        &starts.progress as &[Option<i16>],
        &progresses.id,
        &progresses.attempt,
        &progresses.node_id,
        &progresses.progress,
        &finishes.cpu_seconds as &[Option<f64>],
        &finishes.energy_wh as &[Option<f64>],
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut applied = Applied::default();
    for row in rows {
        match row.kind.as_str() {
            "finished" => {
                if let (Some(function), Some(account)) = (row.function_id, row.account_id) {
                    applied.owners.insert(row.id, (function, account));
                }
                applied
                    .finished
                    .push((row.id, row.seconds.unwrap_or_default()))
            }
            "started" => applied.started.push(row.id),
            _ => applied.progressed.push(row.id),
        }
    }
    Ok(applied)
}
