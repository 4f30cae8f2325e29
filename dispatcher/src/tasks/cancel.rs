//! `cancel`: ends a live task. The database notifies the replica holding the worker's socket
//! (LISTEN/NOTIFY), which sends `cancel` to the worker and wakes waiters.

use uuid::Uuid;

use super::TaskError;
use crate::db;
use crate::state::AppState;

pub async fn cancel(state: &AppState, account_id: Uuid, task: Uuid) -> Result<(), TaskError> {
    let mut conn = state.pool.acquire().await?;
    if db::tasks::cancel(&mut conn, account_id, task).await? {
        tracing::info!(task.id = %canopy_shared::format_id(task), "task cancelled");
        return Ok(());
    }
    match db::tasks::find(&mut conn, account_id, task).await? {
        Some(row) => Err(TaskError::TaskFinished(row.status)),
        None => Err(TaskError::TaskNotFound(task)),
    }
}
