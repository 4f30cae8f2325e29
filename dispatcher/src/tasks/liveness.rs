//! Heartbeats: every interval, one statement records every connected node's liveness and
//! renews the leases of the tasks each reported running. Old idempotency keys are pruned here
//! too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db;
use crate::state::AppState;

/// How often idempotency keys older than 24 h are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

pub(super) async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    let interval = Duration::from_millis(state.dispatch.heartbeat_interval_ms);
    let mut last_prune = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = run_once(&state).await {
            tracing::warn!(error = %error, "could not record heartbeats");
        }
        if last_prune.elapsed() > PRUNE_EVERY {
            last_prune = Instant::now();
            if let Err(error) = prune_idempotency_keys(&state).await {
                tracing::warn!(error = %error, "could not prune idempotency keys");
            }
        }
    }
}

/// Records one heartbeat round for every worker connected here.
pub async fn run_once(state: &AppState) -> sqlx::Result<()> {
    let sessions = state.registry.snapshot();
    if sessions.is_empty() {
        return Ok(());
    }
    let nodes: Vec<Uuid> = sessions.iter().map(|session| session.node_id).collect();
    let latencies: Vec<Option<i32>> = sessions
        .iter()
        .map(|session| session.latency_ms().and_then(|ms| i32::try_from(ms).ok()))
        .collect();
    let (lease_nodes, lease_tasks): (Vec<Uuid>, Vec<Uuid>) = sessions
        .iter()
        .flat_map(|session| {
            session
                .reported_running()
                .into_iter()
                .map(|task| (session.node_id, task))
        })
        .unzip();
    let mut conn = state.batch_pool.acquire().await?;
    db::leases::record_heartbeats(
        &mut conn,
        &nodes,
        &latencies,
        &lease_nodes,
        &lease_tasks,
        state.lease_ms(),
        state.dispatch.timeout_grace_s as f64,
    )
    .await
}

async fn prune_idempotency_keys(state: &AppState) -> sqlx::Result<u64> {
    let mut conn = state.pool.acquire().await?;
    db::idempotency::prune(&mut conn).await
}
