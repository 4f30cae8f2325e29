//! A submission that needs a transaction of its own: with an idempotency key, the key's claim
//! and the task share it, so a retried request finds the task its first attempt created; for an
//! account with a task quota, the quota's check and the task share it, so no replica admits a
//! task past the quota.

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
use crate::quotas::{self, Quota};
use crate::state::AppState;

/// The key's claim (if any), the quota's check (if metered) and the task in one transaction.
pub(in crate::tasks) async fn commit_alone(
    state: &AppState,
    id: Uuid,
    submission: Submission,
    received: Instant,
    quota: Quota,
) -> Result<Submitted, TaskError> {
    let mut tx = state.pool.begin().await?;
    // The function must be the caller's before its key can say anything.
    let snapshots = function_map(&mut tx, submission.function_id).await?;
    if snapshots
        .get(&submission.function_id)
        .is_none_or(|row| row.account_id != submission.account_id)
    {
        return Err(TaskError::FunctionNotFound(submission.function_id));
    }
    if let Some(key) = &submission.idempotency {
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
            // A replay is answered even past the quota: the task was admitted the first time.
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
    }
    if quota.meters_tasks() {
        quotas::admit_task(&mut tx, submission.account_id, &quota).await?;
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
