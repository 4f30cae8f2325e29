//! LISTEN/NOTIFY: what other replicas (and this one) did that this replica must act on. Triggers
//! in the database raise the notifications (migration `reliability`).

use std::sync::Arc;
use std::time::Duration;

use canopy_shared::protocol::DispatcherMessage;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Ended;
use crate::state::AppState;

const CHANNELS: [&str; 6] = [
    "canopy_tasks",
    "canopy_finished",
    "canopy_nodes",
    "canopy_revoked",
    "canopy_firings",
    crate::db::prewarms::CHANNEL,
];

pub async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    let mut outage_logged = false;
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&state.pool).await?;
            listener.listen_all(CHANNELS).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = listener => match result {
                Ok(listener) => listener,
                Err(error) => {
                    if !outage_logged {
                        tracing::warn!(error = %error, "cannot listen for notifications; retrying");
                        outage_logged = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        };
        if outage_logged {
            tracing::info!("listening for notifications again");
            outage_logged = false;
        }
        // Anything may have happened while nobody listened.
        state.scheduler.wake();
        reload_revocations(&state);
        loop {
            let notification = tokio::select! {
                _ = shutdown.cancelled() => return,
                notification = listener.try_recv() => notification,
            };
            match notification {
                Ok(Some(notification)) => {
                    handle(&state, notification.channel(), notification.payload())
                }
                // The connection was lost and re-established by sqlx; notifications may be missed.
                Ok(None) => state.scheduler.wake(),
                Err(error) => {
                    tracing::warn!(error = %error, "notification listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

fn handle(state: &Arc<AppState>, channel: &str, payload: &str) {
    match channel {
        "canopy_tasks" => state.scheduler.wake(),
        "canopy_finished" => payload.split(',').for_each(|entry| finished(state, entry)),
        "canopy_revoked" => reload_revocations(state),
        "canopy_firings" => state.triggers.wake(),
        crate::db::prewarms::CHANNEL => crate::tasks::relay_prewarm(state, payload),
        "canopy_nodes" => {
            if let Some(target) = payload.strip_prefix("trust:") {
                super::trust::refresh_later(Arc::clone(state), target);
            } else if let Some(node) = payload
                .strip_prefix("revoke:")
                .and_then(|id| Uuid::parse_str(id).ok())
            {
                if state.registry.disconnect(node) {
                    tracing::info!(node.id = %canopy_shared::format_id(node), "node deleted; socket closed");
                }
            }
        }
        _ => {}
    }
}

/// Re-reads the revoked sessions in the background.
fn reload_revocations(state: &Arc<AppState>) {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let ttl_s = state.tokens.ttl_s();
        if let Err(error) = state.revocations.reload(&state.pool, ttl_s).await {
            tracing::warn!(error = %error, "could not re-read revoked sessions");
        }
    });
}

/// Re-reads the revoked sessions every `RELOAD_EVERY`, in case a notification was missed.
pub async fn reload_revocations_periodically(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(crate::auth::revocations::RELOAD_EVERY) => {}
        }
        reload_revocations(&state);
    }
}

/// `<task>:<node or ->:<attempt>:<status>`: waiters re-read the task; a cancel (or a deadline
/// the dispatcher enforced) goes to the worker if its socket is on this replica.
fn finished(state: &AppState, entry: &str) {
    let mut parts = entry.split(':');
    let (Some(task), Some(node), Some(attempt), Some(status)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let Ok(task) = Uuid::parse_str(task) else {
        return;
    };
    state.completions.complete(task, Ended::Reread);
    let Some(session) = Uuid::parse_str(node)
        .ok()
        .and_then(|node| state.registry.get(node))
    else {
        return;
    };
    // A cancel, or an attempt the dispatcher ended at its deadline while the worker still holds it.
    let stop = status == "cancelled" || (status == "timed_out" && session.holds(task));
    if !stop {
        return;
    }
    session.release(task);
    let attempt = attempt.parse().unwrap_or(1);
    session.send(DispatcherMessage::Cancel {
        task_id: canopy_shared::format_id(task),
        attempt,
    });
}
