//! Functions and their tag links. Deleted functions stay (soft delete) until restored.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::tags::TagRow;

/// A live function as stored.
#[derive(Debug, Clone)]
pub struct FunctionRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub lang: String,
    pub kind: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
    pub volunteers: bool,
    pub paused: bool,
    /// The build new tasks run; `None` until a build succeeds.
    pub current_build_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new function; capabilities take their column defaults.
#[derive(Debug)]
pub struct NewFunction<'a> {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub lang: &'a str,
    pub kind: &'a str,
}

/// Capability columns to change; `None` keeps the stored value.
#[derive(Debug, Default)]
pub struct CapabilityChange {
    pub timeout_s: Option<i32>,
    pub cpu_count: Option<i32>,
    pub mem_size_mb: Option<i32>,
    pub network_latency_ms: Option<i32>,
    pub privileged: Option<bool>,
    pub volunteers: Option<bool>,
}

pub async fn insert(conn: &mut PgConnection, function: &NewFunction<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO functions (id, account_id, name, description, lang, kind) VALUES ($1, $2, $3, $4, $5, $6)",
        function.id,
        function.account_id,
        function.name,
        function.description,
        function.lang,
        function.kind
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_live(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<FunctionRow>> {
    sqlx::query_as!(
        FunctionRow,
        "SELECT id, name, description, lang, kind, timeout_s, cpu_count, mem_size_mb, network_latency_ms,
                privileged, volunteers, paused, current_build_id, created_at
         FROM functions WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// A page of the account's live functions after `cursor` (by id), optionally with a tag.
pub async fn list_live(
    conn: &mut PgConnection,
    account_id: Uuid,
    tag: Option<Uuid>,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<FunctionRow>> {
    sqlx::query_as!(
        FunctionRow,
        "SELECT f.id, f.name, f.description, f.lang, f.kind, f.timeout_s, f.cpu_count, f.mem_size_mb,
                f.network_latency_ms, f.privileged, f.volunteers, f.paused, f.current_build_id, f.created_at
         FROM functions f
         WHERE f.account_id = $1 AND f.deleted_at IS NULL
           AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM function_tags ft WHERE ft.function_id = f.id AND ft.tag_id = $2))
           AND ($3::uuid IS NULL OR f.id > $3)
         ORDER BY f.id
         LIMIT $4",
        account_id,
        tag,
        cursor,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Tags of each function in `ids`, as (function id, tag) pairs in tag order.
pub async fn tags_of(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, TagRow)>> {
    let rows = sqlx::query!(
        "SELECT ft.function_id, t.id, t.name, t.color
         FROM function_tags ft JOIN tags t ON t.id = ft.tag_id
         WHERE ft.function_id = ANY($1) ORDER BY t.id",
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.function_id,
                TagRow {
                    id: row.id,
                    name: row.name,
                    color: row.color,
                },
            )
        })
        .collect())
}

/// Replaces a function's tags.
pub async fn set_tags(
    conn: &mut PgConnection,
    function_id: Uuid,
    tag_ids: &[Uuid],
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM function_tags WHERE function_id = $1",
        function_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO function_tags (function_id, tag_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
        function_id,
        tag_ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Changes name and/or description of a live function; false when not found.
pub async fn update_meta(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE functions SET name = coalesce($3, name), description = coalesce($4, description), updated_at = now()
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
        id,
        account_id,
        name,
        description
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn update_capabilities(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
    change: &CapabilityChange,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE functions SET timeout_s = coalesce($3, timeout_s), cpu_count = coalesce($4, cpu_count),
                mem_size_mb = coalesce($5, mem_size_mb), network_latency_ms = coalesce($6, network_latency_ms),
                privileged = coalesce($7, privileged), volunteers = coalesce($8, volunteers), updated_at = now()
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
        id,
        account_id,
        change.timeout_s,
        change.cpu_count,
        change.mem_size_mb,
        change.network_latency_ms,
        change.privileged,
        change.volunteers
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Flips `paused`; returns the new value, or `None` when not found.
pub async fn toggle_pause(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<bool>> {
    let row = sqlx::query!(
        "UPDATE functions SET paused = NOT paused, updated_at = now()
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL RETURNING paused",
        id,
        account_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| row.paused))
}

/// Soft-deletes a live function; false when not found.
pub async fn soft_delete(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE functions SET deleted_at = now(), updated_at = now()
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Brings back a soft-deleted function; false when there is no deleted function with this id.
pub async fn restore(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE functions SET deleted_at = NULL, updated_at = now()
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NOT NULL",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
