//! `wait`: a task's output once it ends, or as it is when the wait runs out.

use std::time::Duration;

use uuid::Uuid;

use super::submit::submit_as;
use super::{Submission, Submitted, TaskError, WAIT_RECHECK};
use crate::db;
use crate::db::tasks::TaskOutput;
use crate::dispatch::{Ended, Subscription};
use crate::state::AppState;

/// Waits up to `wait` for a task of `account_id` to end and returns its output as it is then
/// (`None` when the task does not exist for this account). `fresh` says the caller just created
/// the task, so the first read is skipped.
pub async fn wait(
    state: &AppState,
    account_id: Uuid,
    task: Uuid,
    wait: Duration,
    fresh: bool,
) -> Result<Option<TaskOutput>, TaskError> {
    wait_from(state, account_id, task, wait, None, fresh).await
}

/// Submits a task and waits up to `wait` for it (`Prefer: wait`). The waiter exists before the
/// task can be assigned, so even the fastest worker's result reaches it as it arrives.
pub async fn submit_and_wait(
    state: &AppState,
    submission: Submission,
    wait: Duration,
) -> Result<(Submitted, Option<TaskOutput>), TaskError> {
    let account_id = submission.account_id;
    let id = canopy_shared::new_id();
    let waiter = state.completions.subscribe(id);
    let submitted = submit_as(state, id, submission).await?;
    let output = if submitted.replayed {
        drop(waiter);
        wait_from(state, account_id, submitted.id, wait, None, false).await?
    } else {
        wait_from(state, account_id, id, wait, Some(waiter), true).await?
    };
    Ok((submitted, output))
}

async fn wait_from(
    state: &AppState,
    account_id: Uuid,
    task: Uuid,
    wait: Duration,
    first: Option<Subscription<'_>>,
    fresh: bool,
) -> Result<Option<TaskOutput>, TaskError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut skip_read = fresh;
    let mut first = first;
    loop {
        let mut waiter = match first.take() {
            Some(waiter) => waiter,
            None => state.completions.subscribe(task),
        };
        if !skip_read {
            let output = read(state, account_id, task).await?;
            let done = output
                .as_ref()
                .is_none_or(|output| output.status.is_final());
            if done || tokio::time::Instant::now() >= deadline {
                return Ok(output);
            }
        }
        skip_read = false;
        let now = tokio::time::Instant::now();
        if now >= deadline {
            continue;
        }
        let pause = (deadline - now).min(WAIT_RECHECK);
        if let Ok(Ok(Ended::Output(output))) =
            tokio::time::timeout(pause, &mut waiter.receiver).await
        {
            return Ok(Some(output.as_ref().clone()));
        }
    }
}

async fn read(
    state: &AppState,
    account_id: Uuid,
    task: Uuid,
) -> Result<Option<TaskOutput>, TaskError> {
    // A result already handed to waiters here is read once it is written.
    state.completions.written(task).await;
    let mut conn = state.pool.acquire().await?;
    Ok(db::tasks::output(&mut conn, account_id, task).await?)
}
