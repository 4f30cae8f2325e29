//! Read-only figures for the dashboard: tasks per minute, queue wait, node states, recent
//! outcomes per node. Every query is scoped to one account, or to everyone (`None`, admins).
//!
//! Task windows are bounded by id, not by `issued_at`: ids are UUIDv7, so "issued after T" is
//! a range of the primary key and never a scan of the whole (ever-growing) tasks table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// The smallest UUIDv7 that `canopy_shared::new_id` can produce at `at` (or later).
pub fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70; // version 7, zero random bits
    bytes[8] = 0x80; // RFC 9562 variant
    Uuid::from_bytes(bytes)
}

/// Task events of one minute.
#[derive(Debug, Clone)]
pub struct MinuteRow {
    pub minute: DateTime<Utc>,
    pub issued: i64,
    pub assigned: i64,
    pub succeeded: i64,
    pub failed: i64,
}

/// Per-minute counts of tasks issued, assigned, succeeded and failed (failed, timed out) since
/// `since`. Tasks issued before `first_id` are not counted even if they finished later.
pub async fn minutes(
    conn: &mut PgConnection,
    account: Option<Uuid>,
    first_id: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<MinuteRow>> {
    sqlx::query_as!(
        MinuteRow,
        r#"WITH win AS MATERIALIZED (
               SELECT status, issued_at, assigned_at, finished_at FROM tasks
               WHERE id >= $1 AND ($2::uuid IS NULL OR account_id = $2)
           ), events AS (
               SELECT date_trunc('minute', issued_at) AS minute, 1 AS issued, 0 AS assigned, 0 AS succeeded, 0 AS failed FROM win
               UNION ALL
               SELECT date_trunc('minute', assigned_at), 0, 1, 0, 0 FROM win WHERE assigned_at IS NOT NULL
               UNION ALL
               SELECT date_trunc('minute', finished_at), 0, 0, (status = 'succeeded')::int,
                      (status IN ('failed', 'timed_out'))::int
               FROM win WHERE finished_at IS NOT NULL
           )
           SELECT minute AS "minute!", sum(issued)::bigint AS "issued!", sum(assigned)::bigint AS "assigned!",
                  sum(succeeded)::bigint AS "succeeded!", sum(failed)::bigint AS "failed!"
           FROM events WHERE minute >= date_trunc('minute', $3::timestamptz)
           GROUP BY minute ORDER BY minute"#,
        first_id,
        account,
        since
    )
    .fetch_all(conn)
    .await
}

/// Queue wait (issue → assignment) of the tasks assigned since `since`, ms.
#[derive(Debug, Clone)]
pub struct QueueWait {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub samples: i64,
}

pub async fn queue_wait(
    conn: &mut PgConnection,
    account: Option<Uuid>,
    first_id: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<QueueWait> {
    sqlx::query_as!(
        QueueWait,
        r#"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM assigned_at - issued_at) * 1000) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM assigned_at - issued_at) * 1000) AS p95,
                  count(*) AS "samples!"
           FROM tasks
           WHERE id >= $1 AND ($2::uuid IS NULL OR account_id = $2) AND assigned_at >= $3"#,
        first_id,
        account,
        since
    )
    .fetch_one(conn)
    .await
}

/// Tasks not yet ended, by state.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveTasks {
    pub queued: i64,
    pub assigned: i64,
    pub running: i64,
}

pub async fn live_tasks(conn: &mut PgConnection, account: Option<Uuid>) -> sqlx::Result<LiveTasks> {
    sqlx::query_as!(
        LiveTasks,
        r#"SELECT count(*) FILTER (WHERE status = 'queued') AS "queued!",
                  count(*) FILTER (WHERE status = 'assigned') AS "assigned!",
                  count(*) FILTER (WHERE status = 'running') AS "running!"
           FROM tasks
           WHERE status IN ('queued', 'assigned', 'running') AND ($1::uuid IS NULL OR account_id = $1)"#,
        account
    )
    .fetch_one(conn)
    .await
}

/// A node's state as the overview counts it.
#[derive(Debug, Clone)]
pub struct NodeState {
    pub id: Uuid,
    pub disabled: bool,
    /// Holds a session (its worker said hello and has not said goodbye).
    pub has_session: bool,
    /// Heard from within the connected window.
    pub fresh: bool,
    pub resources: Option<serde_json::Value>,
    pub running_tasks: i64,
}

pub async fn node_states(
    conn: &mut PgConnection,
    account: Option<Uuid>,
    stale_after_s: f64,
) -> sqlx::Result<Vec<NodeState>> {
    sqlx::query_as!(
        NodeState,
        r#"SELECT n.id, n.deleted_at IS NOT NULL AS "disabled!", n.session_id IS NOT NULL AS "has_session!",
                  coalesce(n.last_seen_at > now() - make_interval(secs => $2), false) AS "fresh!",
                  n.resources,
                  (SELECT count(*) FROM tasks t WHERE t.node_id = n.id AND t.status IN ('assigned', 'running')) AS "running_tasks!"
           FROM nodes n WHERE ($1::uuid IS NULL OR n.account_id = $1)"#,
        account,
        stale_after_s
    )
    .fetch_all(conn)
    .await
}

/// Tasks a node finished in the window, whoever's they were.
#[derive(Debug, Clone)]
pub struct NodeOutcomes {
    pub node_id: Uuid,
    pub succeeded: i64,
    pub failed: i64,
}

/// Outcomes on the nodes in scope (their owner's, or all for admins) since `first_id`.
pub async fn node_outcomes(
    conn: &mut PgConnection,
    account: Option<Uuid>,
    first_id: Uuid,
) -> sqlx::Result<Vec<NodeOutcomes>> {
    sqlx::query_as!(
        NodeOutcomes,
        r#"SELECT t.node_id AS "node_id!",
                  count(*) FILTER (WHERE t.status = 'succeeded') AS "succeeded!",
                  count(*) FILTER (WHERE t.status IN ('failed', 'timed_out')) AS "failed!"
           FROM tasks t JOIN nodes n ON n.id = t.node_id
           WHERE t.id >= $1 AND t.finished_at IS NOT NULL AND ($2::uuid IS NULL OR n.account_id = $2)
           GROUP BY t.node_id"#,
        first_id,
        account
    )
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_now_sort_between_the_bounds_of_a_second_ago_and_a_second_ahead() {
        let now = Utc::now();
        let id = canopy_shared::new_id();
        assert!(first_id_at(now - chrono::Duration::seconds(1)) <= id);
        assert!(first_id_at(now + chrono::Duration::seconds(1)) > id);
        assert_eq!(first_id_at(now).get_version_num(), 7);
    }
}
