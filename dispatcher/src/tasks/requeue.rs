//! Every way an attempt goes back to the queue (`attempt + 1`, or failed once out of
//! attempts): a lost node, an expired lease, a worker back without its tasks, a failure that
//! was not the function's. The sweeper finds the first two (and passed deadlines) every second,
//! in the database, so a replica that dies mid-grace leaves nothing stuck.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db;
use crate::db::requeue::Requeue;
use crate::dispatch::Metrics;
use crate::state::AppState;

/// How often lost nodes, expired leases and passed deadlines are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub(super) async fn run_sweeper(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if let Err(error) = sweep_once(&state).await {
            tracing::warn!(error = %error, "could not sweep lost nodes and expired leases");
        }
    }
}

/// Records this replica as alive (before it accepts workers).
pub async fn register_replica(state: &AppState) -> sqlx::Result<()> {
    let mut conn = state.pool.acquire().await?;
    db::nodes::beat_replica(&mut conn, state.replica_id).await
}

/// One sweep: beat for this replica, then re-queue the attempts of nodes that are gone (past
/// the disconnect grace, or on a replica that stopped beating) and of leases that ran out, and
/// end attempts past their hard deadline, and fail queued tasks past their deadline.
pub async fn sweep_once(state: &AppState) -> sqlx::Result<()> {
    let grace_s = state.dispatch.disconnect_grace_s as f64;
    let max_attempts = state.max_attempts();
    let mut conn = state.pool.acquire().await?;
    db::nodes::beat_replica(&mut conn, state.replica_id).await?;

    // First: an attempt past its hard deadline has timed out; it is not a lost lease to retry.
    let overdue =
        db::requeue::time_out_overdue(&mut conn, state.dispatch.timeout_grace_s as f64).await?;
    if overdue > 0 {
        // The database's notification tells the replica holding each worker to cancel it.
        tracing::warn!(
            tasks = overdue,
            "attempts ran past their timeout and were ended"
        );
    }

    let (tasks, attempts) = db::requeue::attempts_of_lost_nodes(&mut conn, grace_s).await?;
    let why = Requeue {
        kind: "lost",
        message: "the node running it disconnected",
        backoff: false,
        max_attempts,
    };
    let lost = db::requeue::requeue_attempts(&mut conn, &tasks, &attempts, None, &why).await?;
    if lost > 0 {
        Metrics::add(&state.metrics.lost_node_requeues, lost);
        tracing::warn!(tasks = lost, "nodes lost; their tasks were re-queued");
    }

    let (tasks, attempts) = db::requeue::attempts_of_replaced_sessions(&mut conn).await?;
    let why = Requeue {
        kind: "lost",
        message: "the worker connection it was handed to is gone",
        backoff: false,
        max_attempts,
    };
    let orphaned = db::requeue::requeue_attempts(&mut conn, &tasks, &attempts, None, &why).await?;
    if orphaned > 0 {
        Metrics::add(&state.metrics.lost_node_requeues, orphaned);
        tracing::warn!(
            tasks = orphaned,
            "attempts of replaced worker connections were re-queued"
        );
    }

    let (tasks, attempts) = db::requeue::attempts_with_expired_leases(&mut conn).await?;
    let why = Requeue {
        kind: "lost",
        message: "the lease of its worker ran out",
        backoff: false,
        max_attempts,
    };
    let expired = db::requeue::requeue_attempts(&mut conn, &tasks, &attempts, None, &why).await?;
    if expired > 0 {
        Metrics::add(&state.metrics.leases_expired, expired);
        tracing::warn!(tasks = expired, "leases ran out; tasks re-queued");
    }

    let late = db::requeue::fail_past_deadline(&mut conn).await?;
    if late > 0 {
        tracing::info!(
            tasks = late,
            "queued tasks passed their deadline and failed"
        );
    }
    if lost + orphaned + expired > 0 {
        state.scheduler.wake();
    }
    Ok(())
}

/// A worker just connected and lists what it still runs: the node's other live attempts were
/// lost with its previous process and go back to the queue at once.
pub async fn requeue_unreported(
    state: &AppState,
    node_id: Uuid,
    reported: &[Uuid],
) -> sqlx::Result<u64> {
    let mut conn = state.pool.acquire().await?;
    let (tasks, attempts) =
        db::requeue::attempts_not_reported(&mut conn, node_id, reported).await?;
    let why = Requeue {
        kind: "lost",
        message: "its worker restarted without it",
        backoff: false,
        max_attempts: state.max_attempts(),
    };
    let requeued =
        db::requeue::requeue_attempts(&mut conn, &tasks, &attempts, Some(node_id), &why).await?;
    if requeued > 0 {
        Metrics::add(&state.metrics.lost_node_requeues, requeued);
        tracing::warn!(
            tasks = requeued,
            "the worker came back without some of its tasks; they were re-queued"
        );
        state.scheduler.wake();
    }
    Ok(requeued)
}

/// Attempts that failed on the worker for reasons that are not the function's: retried after
/// a backoff. Returns those that did not move (no longer current).
pub(super) async fn retry_attempts(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    node_id: Uuid,
    attempts: &[(Uuid, i32, String)],
) -> sqlx::Result<Vec<(Uuid, i32)>> {
    let mut unmoved = Vec::new();
    for (task, attempt, message) in attempts {
        let why = Requeue {
            kind: "worker_error",
            message,
            backoff: true,
            max_attempts: state.max_attempts(),
        };
        let requeued =
            db::requeue::requeue_attempts(conn, &[*task], &[*attempt], Some(node_id), &why).await?;
        if requeued == 1 {
            Metrics::incr(&state.metrics.tasks_retried);
            tracing::info!(task.id = %canopy_shared::format_id(*task), attempt, reason = %message, "attempt failed on the worker; retrying");
            state.scheduler.wake();
        } else {
            unmoved.push((*task, *attempt));
        }
    }
    Ok(unmoved)
}

/// Attempts committed as assigned to a connection that closed before their `assign` frame left
/// (the worker was replaced or went away): back to the queue at once instead of waiting for the
/// lost-node sweep.
pub(super) async fn requeue_undelivered(state: &AppState, undelivered: Vec<(Uuid, Uuid, i32)>) {
    for (node_id, task, attempt) in undelivered {
        tracing::warn!(task.id = %canopy_shared::format_id(task), "assigned to a worker that just disconnected; re-queued");
        let why = Requeue {
            kind: "lost",
            message: "its worker disconnected before the assignment reached it",
            backoff: false,
            max_attempts: state.max_attempts(),
        };
        let moved = async {
            let mut conn = state.pool.acquire().await?;
            db::requeue::requeue_attempts(&mut conn, &[task], &[attempt], Some(node_id), &why).await
        }
        .await;
        match moved {
            Ok(moved) if moved > 0 => {
                Metrics::add(&state.metrics.lost_node_requeues, moved);
                state.scheduler.wake();
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %error, "could not re-queue an undelivered assignment; the sweep will");
            }
        }
    }
}
