//! Public endpoints, their tags, daily usage and the calls made through them. Timezone
//! arithmetic (the local time of a window, the local day of the daily limit) is done by
//! PostgreSQL, whose timezone database the server keeps current.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::tags::TagRow;

/// An endpoint as stored.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub id: Uuid,
    pub function_id: Uuid,
    pub description: String,
    pub daily_limit: i32,
    pub origins: Vec<String>,
    pub ips: Vec<String>,
    pub time_from: Option<String>,
    pub time_to: Option<String>,
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new endpoint.
#[derive(Debug)]
pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub description: &'a str,
    pub daily_limit: i32,
    pub origins: &'a [String],
    pub ips: &'a [String],
    /// (from, to, timezone)
    pub time_limit: Option<(&'a str, &'a str, &'a str)>,
}

/// Inserts an endpoint of one of the account's live functions; false when there is no such
/// function.
pub async fn insert(conn: &mut PgConnection, new: &NewEndpoint<'_>) -> sqlx::Result<bool> {
    let (from, to, zone) = new.time_limit.unzip3();
    let inserted = sqlx::query!(
        "INSERT INTO endpoints (id, account_id, function_id, description, daily_limit, origins, ips,
                                time_from, time_to, time_zone)
         SELECT $1, $2, f.id, $4, $5, $6, $7, $8, $9, $10 FROM functions f
         WHERE f.id = $3 AND f.account_id = $2 AND f.deleted_at IS NULL",
        new.id,
        new.account_id,
        new.function_id,
        new.description,
        new.daily_limit,
        new.origins,
        new.ips,
        from,
        to,
        zone
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

trait Unzip3<'a> {
    fn unzip3(self) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>);
}

impl<'a> Unzip3<'a> for Option<(&'a str, &'a str, &'a str)> {
    fn unzip3(self) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>) {
        match self {
            Some((a, b, c)) => (Some(a), Some(b), Some(c)),
            None => (None, None, None),
        }
    }
}

pub async fn find(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as!(
        EndpointRow,
        "SELECT id, function_id, description, daily_limit, origins, ips, time_from, time_to, time_zone, created_at
         FROM endpoints WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// Writes a whole endpoint row back (the route merges the change into what it read).
pub async fn update(
    conn: &mut PgConnection,
    account_id: Uuid,
    row: &EndpointRow,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE endpoints SET description = $3, daily_limit = $4, origins = $5, ips = $6,
                time_from = $7, time_to = $8, time_zone = $9, updated_at = now()
         WHERE id = $1 AND account_id = $2",
        row.id,
        account_id,
        row.description,
        row.daily_limit,
        &row.origins,
        &row.ips,
        row.time_from,
        row.time_to,
        row.time_zone
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "DELETE FROM endpoints WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Replaces an endpoint's tags.
pub async fn set_tags(conn: &mut PgConnection, id: Uuid, tag_ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM endpoint_tags WHERE endpoint_id = $1", id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO endpoint_tags (endpoint_id, tag_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
        id,
        tag_ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Tags of each endpoint in `ids`, as (endpoint id, tag) pairs.
pub async fn tags_of(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, TagRow)>> {
    let rows = sqlx::query!(
        "SELECT et.endpoint_id, t.id, t.name, t.color
         FROM endpoint_tags et JOIN tags t ON t.id = et.tag_id
         WHERE et.endpoint_id = ANY($1) ORDER BY t.id",
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let tag = TagRow {
                id: row.id,
                name: row.name,
                color: row.color,
            };
            (row.endpoint_id, tag)
        })
        .collect())
}

/// One page of the account's endpoints (oldest first) and how many there are in all.
pub async fn page(
    conn: &mut PgConnection,
    account_id: Uuid,
    function_id: Option<Uuid>,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<EndpointRow>, i64)> {
    let rows = sqlx::query_as!(
        EndpointRow,
        "SELECT id, function_id, description, daily_limit, origins, ips, time_from, time_to, time_zone, created_at
         FROM endpoints WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2)
         ORDER BY created_at, id OFFSET $3 LIMIT $4",
        account_id,
        function_id,
        offset,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM endpoints WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2)"#,
        account_id,
        function_id
    )
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

/// Whether PostgreSQL knows `name` as a timezone.
pub async fn timezone_exists(conn: &mut PgConnection, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS "exists!""#,
        name
    )
    .fetch_one(conn)
    .await
}

/// What a public call needs to know about its endpoint.
#[derive(Debug, Clone)]
pub struct Gate {
    pub id: Uuid,
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub daily_limit: i32,
    pub origins: Vec<String>,
    pub ips: Vec<String>,
    pub time_from: Option<String>,
    pub time_to: Option<String>,
    /// The local time in the window's timezone, minutes after midnight.
    pub local_minutes: Option<i32>,
    pub paused: bool,
    pub deleted: bool,
}

pub async fn gate(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Gate>> {
    sqlx::query_as!(
        Gate,
        r#"SELECT e.id, e.account_id, e.function_id, e.daily_limit, e.origins, e.ips, e.time_from, e.time_to,
                  CASE WHEN e.time_zone IS NULL THEN NULL
                       ELSE (extract(hour FROM now() AT TIME ZONE e.time_zone) * 60
                             + extract(minute FROM now() AT TIME ZONE e.time_zone))::int4 END AS local_minutes,
                  f.paused, f.deleted_at IS NOT NULL AS "deleted!"
           FROM endpoints e JOIN functions f ON f.id = e.function_id WHERE e.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Counts one call against the daily limit in one conditional upsert (so replicas cannot both
/// let the last call through). `Ok(day)` when counted; `Err(seconds)` until the local day ends.
pub async fn count_call(
    conn: &mut PgConnection,
    id: Uuid,
    daily_limit: i32,
) -> sqlx::Result<Result<NaiveDate, i64>> {
    let counted = sqlx::query_scalar!(
        "INSERT INTO endpoint_usage (endpoint_id, day, calls)
         SELECT e.id, (now() AT TIME ZONE coalesce(e.time_zone, 'UTC'))::date, 1
         FROM endpoints e WHERE e.id = $1 AND $2 <> 0
         ON CONFLICT (endpoint_id, day) DO UPDATE SET calls = endpoint_usage.calls + 1
         WHERE $2 = -1 OR endpoint_usage.calls < $2
         RETURNING day",
        id,
        daily_limit
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(day) = counted {
        return Ok(Ok(day));
    }
    let wait = sqlx::query_scalar!(
        r#"SELECT ceil(extract(epoch FROM
                  (date_trunc('day', now() AT TIME ZONE z.zone) + interval '1 day') AT TIME ZONE z.zone - now()))::int8 AS "seconds!"
           FROM (SELECT coalesce(time_zone, 'UTC') AS zone FROM endpoints WHERE id = $1) z"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(Err(wait.unwrap_or(1).max(1)))
}

/// Gives back a counted call whose task could not be created.
pub async fn uncount_call(conn: &mut PgConnection, id: Uuid, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE endpoint_usage SET calls = calls - 1 WHERE endpoint_id = $1 AND day = $2 AND calls > 0",
        id,
        day
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an accepted call: the result token's digest and the task it started.
pub async fn record_call(
    conn: &mut PgConnection,
    token_hash: &[u8],
    endpoint_id: Uuid,
    task_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO endpoint_calls (token_hash, endpoint_id, task_id) VALUES ($1, $2, $3)",
        token_hash,
        endpoint_id,
        task_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A call found by its result token.
#[derive(Debug, Clone)]
pub struct CallRow {
    pub task_id: Uuid,
    pub account_id: Uuid,
    pub origins: Vec<String>,
    pub age_s: f64,
}

pub async fn find_call(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<CallRow>> {
    sqlx::query_as!(
        CallRow,
        r#"SELECT c.task_id, e.account_id, e.origins,
                  extract(epoch FROM now() - c.created_at)::float8 AS "age_s!"
           FROM endpoint_calls c JOIN endpoints e ON e.id = c.endpoint_id WHERE c.token_hash = $1"#,
        token_hash
    )
    .fetch_optional(conn)
    .await
}

/// An endpoint's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointMetrics {
    pub today_calls: i64,
    pub today_tasks: i64,
    pub pending_tasks: i64,
    pub week_tasks: i64,
    pub succeeded_tasks: i64,
    pub failed_tasks: i64,
}

/// Counters over the last 7 days of calls (`todayCalls` is the daily limit's own count, in the
/// endpoint's local day).
pub async fn metrics(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<EndpointMetrics> {
    let row = sqlx::query!(
        r#"SELECT
             count(*) FILTER (WHERE c.created_at >= date_trunc('day', now())) AS "today!",
             count(*) FILTER (WHERE t.status IN ('queued', 'assigned', 'running')) AS "pending!",
             count(*) AS "week!",
             count(*) FILTER (WHERE t.status = 'succeeded') AS "succeeded!",
             count(*) FILTER (WHERE t.status IN ('failed', 'timed_out')) AS "failed!",
             (SELECT coalesce(max(u.calls), 0) FROM endpoint_usage u JOIN endpoints e ON e.id = u.endpoint_id
               WHERE u.endpoint_id = $1 AND u.day = (now() AT TIME ZONE coalesce(e.time_zone, 'UTC'))::date)::int8 AS "today_calls!"
           FROM endpoint_calls c JOIN tasks t ON t.id = c.task_id
           WHERE c.endpoint_id = $1 AND c.created_at >= now() - interval '7 days'"#,
        id
    )
    .fetch_one(conn)
    .await?;
    Ok(EndpointMetrics {
        today_calls: row.today_calls,
        today_tasks: row.today,
        pending_tasks: row.pending,
        week_tasks: row.week,
        succeeded_tasks: row.succeeded,
        failed_tasks: row.failed,
    })
}
