//! Nodes paused by their owner's conditions (`ownerPaused`/`ownerResumed`). While a node is
//! paused its live attempts are frozen, not lost: their hard deadline moves by the time they
//! spent frozen (`owner_paused_s`, plus the running pause while `owner_paused_at` is set).

use sqlx::PgConnection;
use uuid::Uuid;

/// Marks the node paused with `reason`, and its live attempts frozen from now (a pause already
/// under way keeps its start).
pub async fn pause(conn: &mut PgConnection, node: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH paused AS (
             UPDATE nodes SET owner_paused_at = coalesce(owner_paused_at, now()), owner_paused_reason = $2,
                    updated_at = now()
             WHERE id = $1
             RETURNING id
         )
         UPDATE tasks SET owner_paused_at = coalesce(owner_paused_at, now())
         WHERE node_id = $1 AND status IN ('assigned', 'running') AND EXISTS (SELECT 1 FROM paused)",
        node,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the node's pause (resumed, or connected again): each frozen attempt adds the time it
/// spent frozen to its deadline.
pub async fn resume(conn: &mut PgConnection, node: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH resumed AS (
             UPDATE nodes SET owner_paused_at = NULL, owner_paused_reason = NULL, updated_at = now()
             WHERE id = $1 AND owner_paused_at IS NOT NULL
             RETURNING id
         )
         UPDATE tasks SET owner_paused_s = owner_paused_s + extract(epoch FROM now() - owner_paused_at)::float8,
                owner_paused_at = NULL
         WHERE node_id = $1 AND owner_paused_at IS NOT NULL",
        node
    )
    .execute(conn)
    .await?;
    Ok(())
}
