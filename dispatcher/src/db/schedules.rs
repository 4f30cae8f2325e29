//! Schedules, their runs, and the timezone arithmetic of their ticks (PostgreSQL's timezone
//! database turns local times into instants, DST included).

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A schedule as stored.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub function_id: Uuid,
    pub cron: String,
    pub time_zone: String,
    pub description: String,
    pub active: bool,
    pub payload_query: String,
    pub payload_body: Vec<u8>,
    pub payload_content_type: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Inserts a schedule of one of the account's live functions; false when there is none.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    account_id: Uuid,
    function_id: Uuid,
    row: &ScheduleRow,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "INSERT INTO schedules (id, account_id, function_id, cron, time_zone, description, next_run_at)
         SELECT $1, $2, f.id, $4, $5, $6, $7 FROM functions f
         WHERE f.id = $3 AND f.account_id = $2 AND f.deleted_at IS NULL",
        id,
        account_id,
        function_id,
        row.cron,
        row.time_zone,
        row.description,
        row.next_run_at
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn find(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as!(
        ScheduleRow,
        "SELECT id, function_id, cron, time_zone, description, active, payload_query, payload_body,
                payload_content_type, next_run_at, last_run_at, created_at
         FROM schedules WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// Writes the editable fields back (the route merges a change into what it read).
pub async fn update(
    conn: &mut PgConnection,
    account_id: Uuid,
    row: &ScheduleRow,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE schedules SET cron = $3, time_zone = $4, description = $5, active = $6, next_run_at = $7,
                claimed_until = NULL, updated_at = now()
         WHERE id = $1 AND account_id = $2",
        row.id,
        account_id,
        row.cron,
        row.time_zone,
        row.description,
        row.active,
        row.next_run_at
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_payload(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
    query: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE schedules SET payload_query = $3, payload_body = $4, payload_content_type = $5, updated_at = now()
         WHERE id = $1 AND account_id = $2",
        id,
        account_id,
        query,
        body,
        content_type
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "DELETE FROM schedules WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// One page of the account's schedules (oldest first) and the total.
pub async fn page(
    conn: &mut PgConnection,
    account_id: Uuid,
    function_id: Option<Uuid>,
    time_zone: Option<&str>,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<ScheduleRow>, i64)> {
    let rows = sqlx::query_as!(
        ScheduleRow,
        "SELECT id, function_id, cron, time_zone, description, active, payload_query, payload_body,
                payload_content_type, next_run_at, last_run_at, created_at
         FROM schedules
         WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2) AND ($3::text IS NULL OR time_zone = $3)
         ORDER BY created_at, id OFFSET $4 LIMIT $5",
        account_id,
        function_id,
        time_zone,
        offset,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM schedules
           WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2) AND ($3::text IS NULL OR time_zone = $3)"#,
        account_id,
        function_id,
        time_zone
    )
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

/// The wall-clock time in `zone` at `at`.
pub async fn local_time(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    zone: &str,
) -> sqlx::Result<NaiveDateTime> {
    sqlx::query_scalar!(
        r#"SELECT ($1::timestamptz AT TIME ZONE $2) AS "local!""#,
        at,
        zone
    )
    .fetch_one(conn)
    .await
}

/// The instant of wall-clock time `local` in `zone`. A time that a DST change skips is read
/// with the offset before the change (02:30 → 03:30 in spring); a time it repeats, once.
pub async fn instant(
    conn: &mut PgConnection,
    local: NaiveDateTime,
    zone: &str,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar!(
        r#"SELECT ($1::timestamp AT TIME ZONE $2) AS "instant!""#,
        local,
        zone
    )
    .fetch_one(conn)
    .await
}

/// A due schedule, claimed.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: Uuid,
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub cron: String,
    pub time_zone: String,
    pub tick: DateTime<Utc>,
    pub payload_query: String,
    pub payload_body: Vec<u8>,
    pub payload_content_type: Option<String>,
}

/// Claims up to `limit` active schedules whose tick has come, for `claim_s` seconds, skipping
/// those another replica holds.
pub async fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    claim_s: f64,
) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as!(
        Due,
        r#"UPDATE schedules s SET claimed_until = now() + make_interval(secs => $2)
           WHERE s.id IN (SELECT id FROM schedules
                          WHERE active AND next_run_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
                          ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING s.id, s.account_id, s.function_id, s.cron, s.time_zone, s.next_run_at AS "tick!",
                     s.payload_query, s.payload_body, s.payload_content_type"#,
        limit,
        claim_s
    )
    .fetch_all(conn)
    .await
}

/// Records a tick's run and moves the schedule to its next tick, if the schedule still waits
/// for this tick (an edit in between wins).
pub async fn record_tick(
    conn: &mut PgConnection,
    id: Uuid,
    tick: DateTime<Utc>,
    task_id: Option<Uuid>,
    error_code: Option<&str>,
    missed: i32,
    next_run_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH run AS (
             INSERT INTO schedule_runs (schedule_id, tick, task_id, error_code, missed) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT ON CONSTRAINT schedule_runs_once DO NOTHING
         )
         UPDATE schedules SET next_run_at = $6, claimed_until = NULL, last_run_at = now()
         WHERE id = $1 AND next_run_at = $2",
        id,
        tick,
        task_id,
        error_code,
        missed,
        next_run_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a `try` (a run outside the schedule).
pub async fn record_try(conn: &mut PgConnection, id: Uuid, task_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO schedule_runs (schedule_id, task_id) VALUES ($1, $2)",
        id,
        task_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Runs of a schedule, newest first: (tick, task, error, missed).
pub async fn runs(
    conn: &mut PgConnection,
    id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<(Option<DateTime<Utc>>, Option<Uuid>, Option<String>, i32)>> {
    let rows = sqlx::query!(
        "SELECT tick, task_id, error_code, missed FROM schedule_runs WHERE schedule_id = $1 ORDER BY id DESC LIMIT $2",
        id,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.tick, row.task_id, row.error_code, row.missed))
        .collect())
}
