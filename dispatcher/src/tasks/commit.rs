//! The group commit: submissions that arrive while a commit is in flight are written together
//! by the next one, in one multi-row insert (one fsync for all of them). A `201` still means
//! the task is committed; nothing here relaxes durability. Tasks that fit a worker with credits
//! are inserted already assigned, and their `assign` frames leave right after the commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use canopy_shared::protocol::{DispatcherMessage, FunctionSpec};
use canopy_shared::Lang;
use sqlx::PgConnection;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::placement::{assignment, place, requirements, wire_request};
use super::submit::{Pending, Submission, Submitted};
use super::TaskError;
use crate::db;
use crate::db::idempotency::Claim;
use crate::db::submissions::{FunctionSnapshotRow, NewTasks};
use crate::dispatch::{Metrics, SessionHandle};
use crate::domain::function::capabilities_from_columns;
use crate::state::AppState;

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

/// A submission that passed its checks, on its way into the batch.
struct Accepted {
    pending: Pending,
    function: FunctionSpec,
    session: Option<Arc<SessionHandle>>,
}

/// One group commit of `batch`; every submitter gets its answer.
pub async fn run_once(state: &AppState, batch: Vec<Pending>) {
    state.metrics.commit_batch.observe(batch.len() as f64);
    let mut conn = match state.pool.acquire().await {
        Ok(conn) => conn,
        Err(error) => return fail_all(batch, error.into()),
    };
    let mut function_ids: Vec<Uuid> = batch.iter().map(|p| p.submission.function_id).collect();
    function_ids.sort_unstable();
    function_ids.dedup();
    let snapshots = match db::submissions::function_snapshots(&mut conn, &function_ids).await {
        Ok(rows) => rows
            .into_iter()
            .map(|row| (row.id, row))
            .collect::<HashMap<_, _>>(),
        Err(error) => return fail_all(batch, error.into()),
    };
    let mut rows = NewTasks::default();
    let mut accepted = Vec::with_capacity(batch.len());
    for pending in batch {
        match accept(state, &snapshots, pending, &mut rows) {
            Ok(task) => accepted.push(task),
            Err((pending, error)) => {
                let _ = pending.reply.send(Err(error));
            }
        }
    }
    if accepted.is_empty() {
        return;
    }
    match db::submissions::insert_batch(&mut conn, &rows, state.lease_ms()).await {
        Ok(()) => {
            let undelivered = hand_out(state, accepted);
            super::requeue::requeue_undelivered(state, undelivered).await;
        }
        Err(error) => {
            tracing::error!(error = %error, tasks = accepted.len(), "group commit failed");
            let error = TaskError::from(error);
            for task in accepted {
                if let Some(session) = &task.session {
                    session.unreserve(task.pending.id);
                }
                let _ = task.pending.reply.send(Err(error.clone()));
            }
        }
    }
}

/// A submission with an idempotency key: the key's claim and the task in one transaction.
pub(super) async fn commit_idempotent(
    state: &AppState,
    id: Uuid,
    submission: Submission,
    received: Instant,
) -> Result<Submitted, TaskError> {
    let Some(key) = submission.idempotency.clone() else {
        return Err(TaskError::IdempotencyKeyReused);
    };
    let mut tx = state.pool.begin().await?;
    // The function must be the caller's before its key can say anything.
    let snapshots = function_map(&mut tx, submission.function_id).await?;
    if snapshots
        .get(&submission.function_id)
        .is_none_or(|row| row.account_id != submission.account_id)
    {
        return Err(TaskError::FunctionNotFound(submission.function_id));
    }
    let claim = db::idempotency::claim(
        &mut tx,
        submission.account_id,
        &key.key,
        &key.request_hash,
        id,
    )
    .await?;
    match claim {
        Claim::New => {}
        Claim::Existing {
            task_id,
            same_request: true,
        } => {
            return Ok(Submitted {
                id: task_id,
                replayed: true,
            })
        }
        Claim::Existing { .. } => return Err(TaskError::IdempotencyKeyReused),
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    let pending = Pending {
        id,
        submission,
        reply,
        received,
    };
    let mut rows = NewTasks::default();
    let task = accept(state, &snapshots, pending, &mut rows).map_err(|(_, error)| error)?;
    let written = async {
        db::submissions::insert_batch(&mut tx, &rows, state.lease_ms()).await?;
        tx.commit().await
    }
    .await;
    if let Err(error) = written {
        if let Some(session) = &task.session {
            session.unreserve(id);
        }
        return Err(error.into());
    }
    let undelivered = hand_out(state, vec![task]);
    super::requeue::requeue_undelivered(state, undelivered).await;
    answer.await.map_err(|_| TaskError::ShuttingDown)?
}

async fn function_map(
    conn: &mut PgConnection,
    function_id: Uuid,
) -> sqlx::Result<HashMap<Uuid, FunctionSnapshotRow>> {
    let rows = db::submissions::function_snapshots(conn, &[function_id]).await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// Checks a submission against its function's snapshot, places it, and adds its row.
#[allow(clippy::result_large_err)]
fn accept(
    state: &AppState,
    snapshots: &HashMap<Uuid, FunctionSnapshotRow>,
    pending: Pending,
    rows: &mut NewTasks,
) -> Result<Accepted, (Pending, TaskError)> {
    let function = match resolve(snapshots, &pending.submission) {
        Ok(function) => function,
        Err(error) => return Err((pending, error)),
    };
    // Older queued tasks go first: place at submit only when none may be waiting.
    let session = if state.scheduler.may_have_queued() {
        None
    } else {
        place(
            state,
            pending.id,
            &requirements(pending.submission.account_id, &function),
        )
    };
    push_row(rows, &pending, &function, session.as_deref());
    Ok(Accepted {
        pending,
        function,
        session,
    })
}

/// The function version a submission runs, or why it cannot run.
fn resolve(
    snapshots: &HashMap<Uuid, FunctionSnapshotRow>,
    submission: &Submission,
) -> Result<FunctionSpec, TaskError> {
    let row = snapshots
        .get(&submission.function_id)
        .filter(|row| row.account_id == submission.account_id)
        .ok_or(TaskError::FunctionNotFound(submission.function_id))?;
    if row.paused {
        return Err(TaskError::FunctionPaused);
    }
    let (Some(build_id), Some(sha256), Some(size), Some(lang)) = (
        row.build_id,
        row.artifact_sha256.clone(),
        row.artifact_size,
        Lang::from_code(&row.lang),
    ) else {
        return Err(TaskError::NoRunner);
    };
    Ok(FunctionSpec {
        function_id: canopy_shared::format_id(row.id),
        build_id: canopy_shared::format_id(build_id),
        lang,
        artifact_sha256: sha256,
        artifact_size: u64::try_from(size).unwrap_or(0),
        capabilities: capabilities_from_columns(
            row.timeout_s,
            row.cpu_count,
            row.mem_size_mb,
            row.network_latency_ms,
            row.privileged,
            row.volunteers,
        ),
    })
}

fn push_row(
    rows: &mut NewTasks,
    pending: &Pending,
    function: &FunctionSpec,
    session: Option<&SessionHandle>,
) {
    let submission = &pending.submission;
    let request = &submission.request;
    let capabilities = &function.capabilities;
    let to_i32 = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    rows.id.push(pending.id);
    rows.account_id.push(submission.account_id);
    rows.function_id.push(submission.function_id);
    rows.build_id
        .push(canopy_shared::parse_id(&function.build_id).unwrap_or_default());
    rows.lang.push(function.lang.code().to_owned());
    rows.timeout_s.push(to_i32(capabilities.timeout));
    rows.cpu_count.push(to_i32(capabilities.cpu_count));
    rows.mem_size_mb.push(to_i32(capabilities.mem_size));
    rows.network_latency_ms
        .push(to_i32(capabilities.network_latency));
    rows.privileged.push(capabilities.privileged);
    rows.volunteers.push(capabilities.volunteers);
    rows.method.push(request.method.clone());
    rows.query.push(request.query.clone());
    rows.headers
        .push(serde_json::to_value(&request.headers).unwrap_or_default());
    rows.content_type.push(request.content_type.clone());
    rows.body.push(request.body.clone());
    rows.priority.push(submission.priority);
    rows.deadline.push(submission.deadline);
    rows.node_id.push(session.map(|session| session.node_id));
    rows.session_id
        .push(session.map(|session| session.session_id));
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
