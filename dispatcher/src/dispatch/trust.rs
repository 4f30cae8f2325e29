//! Keeps the trust of this replica's sessions (whose tasks each node may run) in step with the
//! database: read when a worker connects, re-read when a node's volunteer flag or a pool changes.

use std::sync::Arc;

use super::SessionHandle;
use crate::db;
use crate::state::AppState;

/// Re-reads the trust of `sessions` from the database and sets it on each.
pub async fn refresh(state: &AppState, sessions: &[Arc<SessionHandle>]) -> sqlx::Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let nodes: Vec<_> = sessions.iter().map(|session| session.node_id).collect();
    let mut conn = state.pool.acquire().await?;
    let trusts = db::trust::of_nodes(&mut conn, &nodes, state.dispatch.min_trust_score).await?;
    drop(conn);
    for (node, trust) in trusts {
        if let Some(session) = sessions.iter().find(|session| session.node_id == node) {
            session.set_trust(trust);
        }
    }
    // A node that may now serve more accounts should look at the queue again.
    state.scheduler.wake();
    Ok(())
}

/// Handles a `trust:<node>` or `trust:*` notification in the background.
pub fn refresh_later(state: Arc<AppState>, target: &str) {
    let sessions = if target == "*" {
        state.registry.snapshot()
    } else {
        match uuid::Uuid::parse_str(target)
            .ok()
            .and_then(|node| state.registry.get(node))
        {
            Some(session) => vec![session],
            None => return,
        }
    };
    tokio::spawn(async move {
        if let Err(error) = refresh(&state, &sessions).await {
            tracing::warn!(error = %error, "could not re-read node trust");
        }
    });
}
