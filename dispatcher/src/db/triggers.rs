//! Triggers, their tags, and their firings (recorded by the database when a source task ends;
//! claimed and marked here).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::tags::TagRow;

/// A trigger as stored, with how often it fired.
#[derive(Debug, Clone)]
pub struct TriggerRow {
    pub id: Uuid,
    pub function_id: Uuid,
    pub next_id: Uuid,
    pub status: i32,
    pub include_result: bool,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub fired: i64,
    pub refused: i64,
    pub pending: i64,
}

/// Serialises trigger changes of one account, so two concurrent creations cannot close a cycle
/// that neither saw.
pub async fn lock_account(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('triggers:' || $1::uuid::text, 0))",
        account_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How many of `ids` are live functions of the account (in order: which ones are).
pub async fn live_functions(
    conn: &mut PgConnection,
    account_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM functions WHERE account_id = $1 AND id = ANY($2) AND deleted_at IS NULL",
        account_id,
        ids
    )
    .fetch_all(conn)
    .await
}

/// Whether `from` reaches `to` along the account's triggers (so `to → from` would close a loop).
pub async fn reaches(
    conn: &mut PgConnection,
    account_id: Uuid,
    from: Uuid,
    to: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE reach(fid) AS (
               SELECT $2::uuid
               UNION
               SELECT t.next_id FROM triggers t JOIN reach r ON t.function_id = r.fid WHERE t.account_id = $1
           )
           SELECT EXISTS (SELECT 1 FROM reach WHERE fid = $3) AS "reaches!""#,
        account_id,
        from,
        to
    )
    .fetch_one(conn)
    .await
}

/// Fields of a new trigger.
#[derive(Debug)]
pub struct NewTrigger<'a> {
    pub id: Uuid,
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub next_id: Uuid,
    pub status: i32,
    pub include_result: bool,
    pub description: &'a str,
}

pub async fn insert(conn: &mut PgConnection, new: &NewTrigger<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO triggers (id, account_id, function_id, next_id, status, include_result, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        new.id,
        new.account_id,
        new.function_id,
        new.next_id,
        new.status,
        new.include_result,
        new.description
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Changes what is given; false when the trigger is not the account's.
pub async fn update(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
    status: Option<i32>,
    include_result: Option<bool>,
    description: Option<&str>,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE triggers SET status = coalesce($3, status), include_result = coalesce($4, include_result),
                description = coalesce($5, description), updated_at = now()
         WHERE id = $1 AND account_id = $2",
        id,
        account_id,
        status,
        include_result,
        description
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "DELETE FROM triggers WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// One page of the account's triggers (oldest first), optionally of one source function, and
/// the total.
pub async fn page(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Option<Uuid>,
    function_id: Option<Uuid>,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<TriggerRow>, i64)> {
    let rows = sqlx::query_as!(
        TriggerRow,
        r#"SELECT t.id, t.function_id, t.next_id, t.status, t.include_result, t.description, t.created_at,
                  count(f.id) FILTER (WHERE f.state = 'fired') AS "fired!",
                  count(f.id) FILTER (WHERE f.state = 'refused') AS "refused!",
                  count(f.id) FILTER (WHERE f.state = 'pending') AS "pending!"
           FROM triggers t LEFT JOIN trigger_firings f ON f.trigger_id = t.id
           WHERE t.account_id = $1 AND ($2::uuid IS NULL OR t.id = $2) AND ($3::uuid IS NULL OR t.function_id = $3)
           GROUP BY t.id ORDER BY t.created_at, t.id OFFSET $4 LIMIT $5"#,
        account_id,
        id,
        function_id,
        offset,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM triggers
           WHERE account_id = $1 AND ($2::uuid IS NULL OR id = $2) AND ($3::uuid IS NULL OR function_id = $3)"#,
        account_id,
        id,
        function_id
    )
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

/// Replaces a trigger's tags.
pub async fn set_tags(conn: &mut PgConnection, id: Uuid, tag_ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM trigger_tags WHERE trigger_id = $1", id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO trigger_tags (trigger_id, tag_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
        id,
        tag_ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Tags of each trigger in `ids`, as (trigger id, tag) pairs.
pub async fn tags_of(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, TagRow)>> {
    let rows = sqlx::query!(
        "SELECT tt.trigger_id, t.id, t.name, t.color
         FROM trigger_tags tt JOIN tags t ON t.id = tt.tag_id
         WHERE tt.trigger_id = ANY($1) ORDER BY t.id",
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
            (row.trigger_id, tag)
        })
        .collect())
}

/// A pending firing with what its task needs.
#[derive(Debug, Clone)]
pub struct Firing {
    pub id: Uuid,
    pub trigger_id: Uuid,
    pub source_task_id: Uuid,
    pub account_id: Uuid,
    pub next_id: Uuid,
    pub include_result: bool,
    /// The source task's own depth (its `x-canopy-chain-depth` header; 0 for a caller's task).
    pub source_depth: i32,
    pub source_status: String,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
}

/// Claims up to `limit` pending firings for `claim_s` seconds (a replica that dies holding them
/// lets them go when the claim runs out), oldest first, skipping those another replica holds.
pub async fn claim(conn: &mut PgConnection, limit: i64, claim_s: f64) -> sqlx::Result<Vec<Firing>> {
    sqlx::query_as!(
        Firing,
        r#"WITH claimed AS (
               UPDATE trigger_firings f SET claimed_until = now() + make_interval(secs => $2)
               WHERE f.id IN (SELECT id FROM trigger_firings
                              WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < now())
                              ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING f.id, f.trigger_id, f.source_task_id
           )
           SELECT c.id AS "id!", c.trigger_id AS "trigger_id!", c.source_task_id AS "source_task_id!",
                  tr.account_id, tr.next_id, tr.include_result,
                  coalesce((SELECT (h.value ->> 1)::int4 FROM jsonb_array_elements(t.request_headers) h
                            WHERE h.value ->> 0 = 'x-canopy-chain-depth' AND (h.value ->> 1) ~ '^[0-9]{1,6}$' LIMIT 1), 0) AS "source_depth!",
                  t.status AS source_status, t.response_status, t.response_content_type, t.response_body
           FROM claimed c JOIN triggers tr ON tr.id = c.trigger_id JOIN tasks t ON t.id = c.source_task_id"#,
        limit,
        claim_s
    )
    .fetch_all(conn)
    .await
}

/// Marks a firing done: its task, or why it was refused.
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    depth: i32,
    next_task_id: Option<Uuid>,
    error_code: Option<&str>,
) -> sqlx::Result<()> {
    let state = if next_task_id.is_some() {
        "fired"
    } else {
        "refused"
    };
    sqlx::query!(
        "UPDATE trigger_firings SET state = $2, depth = $3, next_task_id = $4, error_code = $5,
                fired_at = now(), claimed_until = NULL
         WHERE id = $1 AND state = 'pending'",
        id,
        state,
        depth,
        next_task_id,
        error_code
    )
    .execute(conn)
    .await?;
    Ok(())
}
