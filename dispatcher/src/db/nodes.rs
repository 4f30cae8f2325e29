//! Nodes (volunteer machines), their tokens and last known state.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A node as listed.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub description: String,
    /// Offered to other accounts' functions that allow volunteers.
    pub volunteer: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub resources: Option<serde_json::Value>,
    pub latency_ms: Option<i32>,
    pub connected: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub running_tasks: i64,
    pub created_at: DateTime<Utc>,
    /// Paused by its owner's conditions since then, and why.
    pub owner_paused_at: Option<DateTime<Utc>>,
    pub owner_paused_reason: Option<String>,
    /// k-of-n verification: +1 per agreeing vote, -5 per disagreeing one.
    pub trust_score: i32,
    pub votes_agreed: i32,
    pub votes_disagreed: i32,
}

/// Registers a node; a taken id fails on `nodes_pkey`.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    account_id: Uuid,
    description: &str,
    token_hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO nodes (id, account_id, description, token_hash) VALUES ($1, $2, $3, $4)",
        id,
        account_id,
        description,
        token_hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Nodes of one account, or of everyone when `account_id` is `None` (admins).
pub async fn list(
    conn: &mut PgConnection,
    account_id: Option<Uuid>,
    stale_after_s: f64,
) -> sqlx::Result<Vec<NodeRow>> {
    sqlx::query_as!(
        NodeRow,
        r#"SELECT n.id, n.account_id, n.description, n.volunteer, n.deleted_at, n.resources, n.latency_ms,
                  (n.session_id IS NOT NULL AND n.last_seen_at > now() - make_interval(secs => $2)) AS "connected!",
                  n.last_seen_at, n.created_at, n.owner_paused_at, n.owner_paused_reason,
                  n.trust_score, n.votes_agreed, n.votes_disagreed,
                  (SELECT count(*) FROM tasks t WHERE t.node_id = n.id AND t.status IN ('assigned', 'running')) AS "running_tasks!"
           FROM nodes n
           WHERE ($1::uuid IS NULL OR n.account_id = $1)
           ORDER BY n.created_at, n.id"#,
        account_id,
        stale_after_s
    )
    .fetch_all(conn)
    .await
}

/// Soft-deletes a node (revoking its token); `None` owner means any owner (admins).
pub async fn soft_delete(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Option<Uuid>,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE nodes SET deleted_at = now(), session_id = NULL, updated_at = now()
         WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2) AND deleted_at IS NULL",
        id,
        owner
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Outcome of restoring a node.
#[derive(Debug, PartialEq, Eq)]
pub enum Restore {
    Restored,
    NotDeleted,
    NotFound,
}

/// Restores a deleted node with a new token (the old one stays revoked).
pub async fn restore(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Option<Uuid>,
    token_hash: &[u8],
) -> sqlx::Result<Restore> {
    let row = sqlx::query!(
        r#"WITH target AS (
               SELECT id, deleted_at FROM nodes WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)
           ), restored AS (
               UPDATE nodes n SET deleted_at = NULL, token_hash = $3, updated_at = now()
               FROM target WHERE n.id = target.id AND target.deleted_at IS NOT NULL RETURNING n.id
           )
           SELECT (SELECT count(*) FROM target) AS "found!", (SELECT count(*) FROM restored) AS "restored!""#,
        id,
        owner,
        token_hash
    )
    .fetch_one(conn)
    .await?;
    Ok(match (row.found, row.restored) {
        (0, _) => Restore::NotFound,
        (_, 0) => Restore::NotDeleted,
        _ => Restore::Restored,
    })
}

/// The live node (id, owner) holding this token.
pub async fn authenticate(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    let row = sqlx::query!(
        "SELECT id FROM nodes WHERE token_hash = $1 AND deleted_at IS NULL",
        token_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| row.id))
}

/// Records a `hello`: the node is connected in `session_id` on `replica_id` with these
/// resources, and the new connection adopts the live attempts it reports holding. One
/// statement, so no sweep sees the new connection without its adopted attempts.
pub async fn mark_connected(
    conn: &mut PgConnection,
    id: Uuid,
    session_id: Uuid,
    replica_id: Uuid,
    resources: &serde_json::Value,
    holding: &[Uuid],
) -> sqlx::Result<bool> {
    let row = sqlx::query!(
        r#"WITH connected AS (
               UPDATE nodes SET session_id = $2, replica_id = $3, resources = $4, last_seen_at = now(), updated_at = now()
               WHERE id = $1 AND deleted_at IS NULL
               RETURNING id
           ), adopted AS (
               UPDATE tasks SET session_id = $2
               WHERE node_id = $1 AND id = ANY($5) AND status IN ('assigned', 'running')
                 AND EXISTS (SELECT 1 FROM connected)
               RETURNING 1
           )
           SELECT (SELECT count(*) FROM connected) AS "connected!", (SELECT count(*) FROM adopted) AS "adopted!""#,
        id,
        session_id,
        replica_id,
        resources,
        holding
    )
    .fetch_one(conn)
    .await?;
    Ok(row.connected == 1)
}

/// A replica's heartbeat (one row per replica); rows of replicas gone for a day are dropped.
pub async fn beat_replica(conn: &mut PgConnection, replica_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH gone AS (DELETE FROM replicas WHERE beat_at < now() - interval '1 day')
         INSERT INTO replicas (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET beat_at = now()",
        replica_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Clears the session if it is still this one (a newer connection may have replaced it).
pub async fn mark_disconnected(
    conn: &mut PgConnection,
    id: Uuid,
    session_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE nodes SET session_id = NULL, last_seen_at = now() WHERE id = $1 AND session_id = $2",
        id,
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A connected node as its last `hello` described it.
#[derive(Debug, Clone)]
pub struct ConnectedNode {
    pub id: Uuid,
    pub resources: serde_json::Value,
    pub latency_ms: Option<i32>,
    /// The replica holding its socket.
    pub replica_id: Option<Uuid>,
}

/// Connected nodes (live sessions) that may run tasks of `account` (its own, its pools', and
/// volunteers when `volunteers`), with their advertised resources and latency.
pub async fn connected_serving(
    conn: &mut PgConnection,
    stale_after_s: f64,
    account: Uuid,
    volunteers: bool,
) -> sqlx::Result<Vec<ConnectedNode>> {
    sqlx::query_as!(
        ConnectedNode,
        r#"SELECT n.id, n.resources AS "resources!", n.latency_ms, n.replica_id FROM nodes n
           WHERE n.deleted_at IS NULL AND n.session_id IS NOT NULL AND n.resources IS NOT NULL
             AND n.last_seen_at > now() - make_interval(secs => $1)
             AND (n.account_id = $2 OR ($3 AND n.volunteer)
                  OR EXISTS (SELECT 1 FROM pool_members mine JOIN pool_members other ON other.pool_id = mine.pool_id
                             WHERE mine.account_id = n.account_id AND other.account_id = $2))"#,
        stale_after_s,
        account,
        volunteers
    )
    .fetch_all(conn)
    .await
}
