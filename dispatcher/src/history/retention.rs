//! Deletes finished tasks past the retention, a batch per statement, so the sweep never holds
//! many locks or a long transaction on the hot table. Every replica may sweep: `SKIP LOCKED`
//! keeps them from waiting on each other.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::HistorySettings;
use crate::db;
use crate::state::AppState;

/// Time between sweeps once nothing is left to delete.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub(super) async fn run(
    state: Arc<AppState>,
    settings: HistorySettings,
    shutdown: CancellationToken,
) {
    loop {
        match run_once(&state, &settings).await {
            Ok(deleted) if deleted > 0 => {
                tracing::info!(tasks = deleted, "finished tasks past the retention deleted");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "could not delete old tasks"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// Deletes finished tasks issued before the retention, batch by batch, until none is left;
/// returns how many.
pub async fn run_once(state: &AppState, settings: &HistorySettings) -> sqlx::Result<u64> {
    let age = chrono::Duration::days(i64::from(settings.retention_days));
    let Some(cutoff_at) = chrono::Utc::now().checked_sub_signed(age) else {
        return Ok(0);
    };
    let millis = u64::try_from(cutoff_at.timestamp_millis()).unwrap_or(0);
    // The smallest id issued at the cutoff: task ids are UUIDv7, ordered by their time.
    let cutoff = Uuid::from_u128(u128::from(millis) << 80);
    let batch = i64::from(settings.retention_batch.max(1));
    let mut total = 0;
    loop {
        let mut conn = state.pool.acquire().await?;
        let deleted = db::history::delete_finished_before(&mut conn, cutoff, batch).await?;
        total += deleted;
        if deleted < batch as u64 {
            return Ok(total);
        }
    }
}
