//! `wait`: a task's output once it ends, or as it is when the wait runs out.

use std::time::Duration;

use uuid::Uuid;

use super::{TaskError, WAIT_RECHECK};
use crate::db;
use crate::db::tasks::TaskOutput;
use crate::dispatch::Ended;
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
    let deadline = tokio::time::Instant::now() + wait;
    let mut skip_read = fresh;
    loop {
        let mut waiter = state.completions.subscribe(task);
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
