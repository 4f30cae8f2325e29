//! The group commit: submissions that arrive while a commit is in flight are written together
//! by the next one, in one multi-row insert (one fsync for all of them). A `201` still means
//! the task is committed; nothing here relaxes durability. Tasks that fit a worker with credits
//! are inserted already assigned, and their `assign` frames leave right after the commit.

mod alone;
mod rows;

use std::collections::HashMap;
use std::sync::Arc;

use canopy_shared::protocol::DispatcherMessage;
use sqlx::PgConnection;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::rows::{accept, Accepted};
use super::placement::{assignment, wire_request};
use super::submit::{Pending, Submitted};
use super::TaskError;
use crate::db;
use crate::db::submissions::{FunctionSnapshotRow, NewTasks};
use crate::dispatch::Metrics;
use crate::state::AppState;

pub(super) use alone::commit_alone;
pub(super) use rows::function_spec;

/// Most submissions in one commit.
const MAX_BATCH: usize = 512;

pub(super) async fn run(
    state: Arc<AppState>,
    queue: Arc<Mutex<mpsc::Receiver<Pending>>>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = {
            let mut queue = tokio::select! {
                _ = shutdown.cancelled() => return,
                queue = queue.lock() => queue,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                received = queue.recv_many(&mut batch, MAX_BATCH) => received,
            }
        };
        if received == 0 {
            return;
        }
        run_once(&state, std::mem::take(&mut batch)).await;
    }
}

/// One group commit of `batch`; every submitter gets its answer. Rows are first written with
/// the function snapshots this replica remembers; a row whose function changed meanwhile is
/// tried once more with a fresh read.
pub async fn run_once(state: &AppState, batch: Vec<Pending>) {
    state.metrics.commit_batch.observe(batch.len() as f64);
    let mut conn = match state.pool.acquire().await {
        Ok(conn) => conn,
        Err(error) => return fail_all(batch, error.into()),
    };
    let mut batch = batch;
    for fresh in [false, true] {
        let snapshots = match snapshots_for(state, &mut conn, &batch, fresh).await {
            Ok(snapshots) => snapshots,
            Err(error) => return fail_all(batch, error.into()),
        };
        batch = commit_round(state, &mut conn, &snapshots, batch).await;
        if batch.is_empty() {
            return;
        }
    }
    // Changed again between a fresh read and the insert: rare enough to let the caller retry.
    for pending in batch {
        let _ = pending.reply.send(Err(TaskError::FunctionChanged));
    }
}

/// The snapshots of the batch's functions: remembered ones unless `fresh`, the rest read.
async fn snapshots_for(
    state: &AppState,
    conn: &mut PgConnection,
    batch: &[Pending],
    fresh: bool,
) -> sqlx::Result<HashMap<Uuid, FunctionSnapshotRow>> {
    let mut ids: Vec<Uuid> = batch.iter().map(|p| p.submission.function_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let (mut found, missing) = if fresh {
        (HashMap::new(), ids)
    } else {
        state.snapshots.lookup(&ids)
    };
    if !missing.is_empty() {
        let rows = db::submissions::function_snapshots(conn, &missing).await?;
        state.snapshots.remember(&rows);
        found.extend(rows.into_iter().map(|row| (row.id, row)));
    }
    Ok(found)
}

/// Inserts the submissions that resolve against `snapshots` and hands them out; answers those
/// that cannot run; returns those whose function no longer matched its snapshot.
async fn commit_round(
    state: &AppState,
    conn: &mut PgConnection,
    snapshots: &HashMap<Uuid, FunctionSnapshotRow>,
    batch: Vec<Pending>,
) -> Vec<Pending> {
    let mut rows = NewTasks::default();
    let mut accepted = Vec::with_capacity(batch.len());
    for pending in batch {
        match accept(state, snapshots, pending, &mut rows) {
            Ok(task) => accepted.push(task),
            Err((pending, error)) => {
                let _ = pending.reply.send(Err(error));
            }
        }
    }
    if accepted.is_empty() {
        return Vec::new();
    }
    match db::submissions::insert_batch(conn, &rows, state.lease_ms()).await {
        Ok(inserted) => {
            let (kept, stale) = split_inserted(state, accepted, &inserted);
            let undelivered = hand_out(state, kept);
            crate::tasks::requeue::requeue_undelivered(state, undelivered).await;
            stale
        }
        Err(error) => {
            tracing::error!(error = %error, tasks = accepted.len(), "group commit failed");
            let error = TaskError::from(error);
            for task in accepted {
                if let Some(session) = &task.session {
                    state.registry.unreserve(session, task.pending.id);
                }
                let _ = task.pending.reply.send(Err(error.clone()));
            }
            Vec::new()
        }
    }
}

/// Splits accepted submissions into those the insert wrote and those it left out (their
/// function changed): the latter give back their worker and their snapshot is forgotten.
fn split_inserted(
    state: &AppState,
    accepted: Vec<Accepted>,
    inserted: &[Uuid],
) -> (Vec<Accepted>, Vec<Pending>) {
    if inserted.len() == accepted.len() {
        return (accepted, Vec::new());
    }
    let inserted: std::collections::HashSet<&Uuid> = inserted.iter().collect();
    let (kept, left_out): (Vec<Accepted>, Vec<Accepted>) = accepted
        .into_iter()
        .partition(|task| inserted.contains(&task.pending.id));
    let changed: Vec<Uuid> = left_out
        .iter()
        .map(|task| task.pending.submission.function_id)
        .collect();
    state.snapshots.forget(&changed);
    let stale = left_out
        .into_iter()
        .map(|task| {
            if let Some(session) = &task.session {
                state.registry.unreserve(session, task.pending.id);
            }
            task.pending
        })
        .collect();
    (kept, stale)
}

/// After the commit: `assign` frames to the chosen workers, then the submitters' answers.
/// Returns the (node, task, attempt) whose connection closed meanwhile.
fn hand_out(state: &AppState, accepted: Vec<Accepted>) -> Vec<(Uuid, Uuid, i32)> {
    let mut queued = false;
    let mut undelivered = Vec::new();
    for task in accepted {
        let Accepted {
            pending,
            function,
            session,
        } = task;
        match session {
            Some(session) => {
                let request = pending.submission.request;
                let frame = assignment(
                    pending.id,
                    1,
                    state.dispatch.lease_ms,
                    function,
                    wire_request(
                        request.method,
                        request.query,
                        request.headers,
                        request.content_type,
                        &request.body,
                    ),
                );
                if !session.close.is_cancelled()
                    && session.send(DispatcherMessage::Assign(Box::new(frame)))
                {
                    Metrics::incr(&state.metrics.tasks_assigned);
                    Metrics::incr(&state.metrics.tasks_assigned_at_submit);
                    state
                        .metrics
                        .dispatch_latency
                        .observe(pending.received.elapsed().as_secs_f64());
                    state.metrics.queue_wait.observe(0.0);
                } else {
                    session.release(pending.id);
                    undelivered.push((session.node_id, pending.id, 1));
                }
            }
            None => queued = true,
        }
        let _ = pending.reply.send(Ok(Submitted {
            id: pending.id,
            replayed: false,
        }));
    }
    if queued {
        state.scheduler.wake();
    }
    undelivered
}

fn fail_all(batch: Vec<Pending>, error: TaskError) {
    tracing::error!(error = %error, tasks = batch.len(), "group commit could not reach the database");
    for pending in batch {
        let _ = pending.reply.send(Err(error.clone()));
    }
}
