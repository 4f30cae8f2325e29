//! Leases of held attempts: renewed by heartbeats, in one statement per beat per replica.

use sqlx::PgConnection;
use uuid::Uuid;

/// Heartbeat bookkeeping of one replica in one statement: every connected node's liveness and
/// latency, and the leases of the tasks each node reported running (up to their hard deadline).
pub async fn record_heartbeats(
    conn: &mut PgConnection,
    nodes: &[Uuid],
    latencies: &[Option<i32>],
    lease_nodes: &[Uuid],
    lease_tasks: &[Uuid],
    lease_ms: i64,
    timeout_grace_s: f64,
) -> sqlx::Result<()> {
    // Meant for `super::batch_pool`, which says why the status test is `(…) IS TRUE`.
    sqlx::query!(
        r#"WITH touched AS (
               UPDATE nodes n SET last_seen_at = now(), latency_ms = coalesce(v.latency, n.latency_ms)
               FROM unnest($1::uuid[], $2::int4[]) AS v(id, latency) WHERE n.id = v.id
               RETURNING 1
           ), renewed AS (
               -- Never past the attempt's hard deadline: its timeout plus the grace, from assignment,
               -- moved by the time the owner kept it frozen (so far, and in a pause under way).
               UPDATE tasks t SET lease_expires_at = least(
                          now() + make_interval(secs => $5::float8 / 1000),
                          t.assigned_at + make_interval(secs => t.timeout_s + $6::float8 + t.owner_paused_s)
                              + coalesce(now() - t.owner_paused_at, interval '0'))
               FROM unnest($3::uuid[], $4::uuid[]) AS r(node_id, task_id)
               WHERE t.id = r.task_id AND t.node_id = r.node_id
                 AND (t.status IN ('assigned', 'running')) IS TRUE
               RETURNING 1
           )
           SELECT (SELECT count(*) FROM touched) AS "touched!", (SELECT count(*) FROM renewed) AS "renewed!""#,
        nodes,
        latencies as &[Option<i32>],
        lease_nodes,
        lease_tasks,
        lease_ms as f64,
        timeout_grace_s
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}
