//! Putting attempts back in the queue as `attempt + 1`, or failing them once they have used
//! their attempts. One transition for every cause (a retryable failure, a lost node, an expired
//! lease, a worker back without its tasks); the finders below pick the attempts.

use sqlx::PgConnection;
use uuid::Uuid;

/// Why attempts go back to the queue.
#[derive(Debug, Clone, Copy)]
pub struct Requeue<'a> {
    /// `error.kind` when the task has no attempt left (`lost`, `worker_error`).
    pub kind: &'a str,
    pub message: &'a str,
    /// Wait before the next attempt (0.5 s doubling per attempt, at most 30 s).
    pub backoff: bool,
    pub max_attempts: i32,
}

/// Re-queues these (task, attempt) pairs if each attempt is still current and live (and, with
/// `node`, on that node). Returns how many moved. A task under verification has its runs on
/// top of `max_attempts` (each run is an attempt).
pub async fn requeue_attempts(
    conn: &mut PgConnection,
    tasks: &[Uuid],
    attempts: &[i32],
    node: Option<Uuid>,
    why: &Requeue<'_>,
) -> sqlx::Result<u64> {
    if tasks.is_empty() {
        return Ok(0);
    }
    let result = sqlx::query!(
        "UPDATE tasks t SET
             status = CASE WHEN t.attempt >= $4::int4 + t.quorum_runs THEN 'failed' ELSE 'queued' END,
             attempt = CASE WHEN t.attempt >= $4::int4 + t.quorum_runs THEN t.attempt ELSE t.attempt + 1 END,
             node_id = CASE WHEN t.attempt >= $4::int4 + t.quorum_runs THEN t.node_id END,
             error_kind = CASE WHEN t.attempt >= $4::int4 + t.quorum_runs THEN $5 END,
             error_message = $6,
             finished_at = CASE WHEN t.attempt >= $4::int4 + t.quorum_runs THEN now() END,
             not_before = CASE WHEN $7 AND t.attempt < $4::int4 + t.quorum_runs
                               THEN now() + make_interval(secs => least(30.0, 0.5 * power(2, t.attempt - 1))) END,
             assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, progress = 0,
             owner_paused_at = NULL, owner_paused_s = 0,
             session_id = CASE WHEN t.attempt >= $4::int4 + t.quorum_runs THEN t.session_id END
         FROM unnest($1::uuid[], $2::int4[]) AS v(id, attempt)
         WHERE t.id = v.id AND t.attempt = v.attempt AND t.status IN ('assigned', 'running')
           AND ($3::uuid IS NULL OR t.node_id = $3)",
        tasks,
        attempts,
        node,
        why.max_attempts,
        why.kind,
        why.message,
        why.backoff
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// (tasks, attempts) as two arrays, the way `requeue_attempts` takes them.
type Attempts = (Vec<Uuid>, Vec<i32>);

/// Live attempts of nodes that are gone: disconnected for longer than the grace period, deleted,
/// or connected to a replica that has not beaten for that long (it died, and the worker did not
/// come back on another one).
pub async fn attempts_of_lost_nodes(
    conn: &mut PgConnection,
    grace_s: f64,
) -> sqlx::Result<Attempts> {
    let rows = sqlx::query!(
        "SELECT t.id, t.attempt FROM tasks t JOIN nodes n ON n.id = t.node_id
         WHERE t.status IN ('assigned', 'running')
           AND ((n.session_id IS NULL AND n.last_seen_at < now() - make_interval(secs => $1))
                OR (n.session_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM replicas r
                        WHERE r.id = n.replica_id AND r.beat_at > now() - make_interval(secs => $1)))
                OR n.deleted_at IS NOT NULL)",
        grace_s
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.attempt)).unzip())
}

/// Live attempts handed to an older connection of a node that has connected again and did not
/// adopt them: that connection died with them.
pub async fn attempts_of_replaced_sessions(conn: &mut PgConnection) -> sqlx::Result<Attempts> {
    let rows = sqlx::query!(
        "SELECT t.id, t.attempt FROM tasks t JOIN nodes n ON n.id = t.node_id
         WHERE t.status IN ('assigned', 'running') AND n.session_id IS NOT NULL
           AND t.session_id IS NOT NULL AND t.session_id <> n.session_id"
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.attempt)).unzip())
}

/// Live attempts whose lease ran out: their worker stopped renewing them.
pub async fn attempts_with_expired_leases(conn: &mut PgConnection) -> sqlx::Result<Attempts> {
    let rows = sqlx::query!(
        "SELECT id, attempt FROM tasks WHERE status IN ('assigned', 'running') AND lease_expires_at < now()"
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.attempt)).unzip())
}

/// Live attempts of a node that its worker, just connected, does not report running.
pub async fn attempts_not_reported(
    conn: &mut PgConnection,
    node_id: Uuid,
    reported: &[Uuid],
) -> sqlx::Result<Attempts> {
    let rows = sqlx::query!(
        "SELECT id, attempt FROM tasks
         WHERE node_id = $1 AND status IN ('assigned', 'running') AND NOT (id = ANY($2))",
        node_id,
        reported
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.attempt)).unzip())
}

/// Fails queued tasks whose deadline passed before any worker took them.
pub async fn fail_past_deadline(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE tasks SET status = 'failed', error_kind = 'deadline_exceeded',
                error_message = 'no worker took the task before its deadline', finished_at = now()
         WHERE status = 'queued' AND deadline IS NOT NULL AND deadline <= now()"
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Ends attempts that ran past their hard deadline (the function's timeout plus `grace_s`,
/// from assignment, plus the time their node's owner kept them frozen) as timed out, whatever
/// their worker says; never while they are frozen. Returns how many.
pub async fn time_out_overdue(conn: &mut PgConnection, grace_s: f64) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE tasks SET status = 'timed_out', error_kind = 'timeout',
                error_message = 'the attempt ran past its timeout; the dispatcher ended it',
                finished_at = now(), lease_expires_at = NULL
         WHERE status IN ('assigned', 'running') AND owner_paused_at IS NULL
           AND assigned_at + make_interval(secs => timeout_s + $1::float8 + owner_paused_s) < now()",
        grace_s
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
