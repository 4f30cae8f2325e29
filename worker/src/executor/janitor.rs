//! Container housekeeping: idle expiry, stale containers of a previous run, and shutdown.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::engine::{ContainerEngine, EngineError, LABEL_WORKER};
use super::Executor;

impl<E: ContainerEngine> Executor<E> {
    /// Removes the containers idle for longer than the expiry; returns how many. The pool lock
    /// is released before Docker is called.
    pub async fn reap_idle(&self, now: Instant) -> usize {
        let expired = self.pool.take_expired(now, self.settings.idle_expiry);
        for container in &expired {
            self.discard(container).await;
        }
        expired.len()
    }

    /// Reaps idle containers every few seconds until `cancel` fires.
    pub async fn run_janitor(&self, cancel: CancellationToken) {
        let every =
            (self.settings.idle_expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(15));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    let reaped = self.reap_idle(Instant::now()).await;
                    if reaped > 0 {
                        info!(containers = reaped, "removed idle containers");
                    }
                }
            }
        }
    }

    /// Removes every container labelled as this node's: at start (a previous run's leftovers)
    /// and at shutdown.
    pub async fn remove_own_containers(&self) -> Result<usize, EngineError> {
        self.pool.take_all();
        self.remove_blanks().await;
        // Every slot belongs to a container removed here.
        let _ = std::fs::remove_dir_all(&self.settings.slots_dir);
        let ids = self
            .engine
            .list_by_label(LABEL_WORKER, &self.settings.node_id)
            .await?;
        for id in &ids {
            if let Err(error) = self.engine.remove(id).await {
                warn!(container.id = %super::short(id), %error, "could not remove container");
            }
        }
        Ok(ids.len())
    }
}
