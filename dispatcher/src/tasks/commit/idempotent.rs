//! A submission with an idempotency key: the key's claim and the task share one transaction of
//! their own, so a retried request finds the task its first attempt created.

use std::collections::HashMap;
use std::time::Instant;

use sqlx::PgConnection;
use uuid::Uuid;

use super::super::submit::{Pending, Submission, Submitted};
use super::super::TaskError;
use super::hand_out;
use super::rows::accept;
use crate::db;
use crate::db::idempotency::Claim;
use crate::db::submissions::{FunctionSnapshotRow, NewTasks};
use crate::state::AppState;

/// A submission with an idempotency key: the key's claim and the task in one transaction.
pub(in crate::tasks) async fn commit_idempotent(
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
        let inserted = db::submissions::insert_batch(&mut tx, &rows, state.lease_ms()).await?;
        if inserted.is_empty() {
            return Ok(false);
        }
        tx.commit().await.map(|()| true)
    }
    .await;
    if !matches!(written, Ok(true)) {
        if let Some(session) = &task.session {
            state.registry.unreserve(session, id);
        }
        return Err(written
            .err()
            .map_or(TaskError::FunctionChanged, TaskError::from));
    }
    let undelivered = hand_out(state, vec![task]);
    crate::tasks::requeue::requeue_undelivered(state, undelivered).await;
    answer.await.map_err(|_| TaskError::ShuttingDown)?
}

async fn function_map(
    conn: &mut PgConnection,
    function_id: Uuid,
) -> sqlx::Result<HashMap<Uuid, FunctionSnapshotRow>> {
    let rows = db::submissions::function_snapshots(conn, &[function_id]).await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}
