//! The owner's pause inside the executor: every container of this worker is frozen
//! (`docker pause`) while the volunteer's conditions do not hold and thawed after, and an
//! attempt's timeout counts only the time its container could run.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::engine::{ContainerEngine, LABEL_WORKER};
use super::{short, Executor};
use crate::volunteer::Gate;

/// How often a paused worker looks for containers that started after the pause (a cold start
/// already under way) and freezes them too.
const REFREEZE_EVERY: Duration = Duration::from_secs(1);

impl<E: ContainerEngine> Executor<E> {
    /// Freezes and thaws this worker's containers as the gate closes and opens, until `cancel`
    /// fires (then everything is thawed, so it can be removed or finish).
    pub async fn run_freezer(&self, cancel: CancellationToken) {
        let mut gate = self.gate.clone();
        let mut alive = true;
        let mut tick = tokio::time::interval(REFREEZE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = gate.changed(), if alive => alive = changed.is_ok(),
                _ = tick.tick() => {}
            }
            let open = gate.borrow_and_update().is_open();
            if open {
                self.thaw().await;
            } else {
                self.freeze().await;
            }
        }
        self.thaw().await;
    }

    /// Pauses every running container of this worker not paused yet; returns how many.
    pub async fn freeze(&self) -> usize {
        let ids = match self
            .engine
            .list_by_label(LABEL_WORKER, &self.settings.node_id)
            .await
        {
            Ok(ids) => ids,
            Err(error) => {
                warn!(%error, "cannot list containers to pause them");
                return 0;
            }
        };
        let mut paused = 0;
        for id in ids {
            if self.frozen_ids().contains(&id) {
                continue;
            }
            match self.engine.pause(&id).await {
                Ok(()) => {
                    self.frozen_ids().insert(id);
                    paused += 1;
                }
                // Not running (being created, or exiting): the next round tries again.
                Err(error) => debug!(container.id = %short(&id), %error, "not paused"),
            }
        }
        if paused > 0 {
            info!(containers = paused, "containers paused for the owner");
        }
        paused
    }

    /// Unpauses what [`Executor::freeze`] paused.
    pub async fn thaw(&self) {
        let ids: Vec<String> = self.frozen_ids().drain().collect();
        for id in &ids {
            if let Err(error) = self.engine.unpause(id).await {
                // Removed meanwhile (handed back, expired): nothing to thaw.
                debug!(container.id = %short(id), %error, "not unpaused");
            }
        }
        if !ids.is_empty() {
            info!(containers = ids.len(), "containers resumed");
        }
    }

    fn frozen_ids(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.frozen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs `work` with `timeout` of time while the gate is open: time paused by the owner does not
/// count. Returns its output (`None` when the timeout passed first) and the time paused.
pub(super) async fn run_unpaused<F: Future>(
    gate: &watch::Receiver<Gate>,
    timeout: Duration,
    work: F,
) -> (Option<F::Output>, Duration) {
    let mut gate = gate.clone();
    let mut alive = true;
    tokio::pin!(work);
    let mut deadline = Instant::now() + timeout;
    let mut paused_since = (!gate.borrow_and_update().is_open()).then(Instant::now);
    let mut paused = Duration::ZERO;
    loop {
        tokio::select! {
            output = &mut work => {
                paused += paused_since.map_or(Duration::ZERO, |since| since.elapsed());
                return (Some(output), paused);
            }
            _ = tokio::time::sleep_until(deadline), if paused_since.is_none() => {
                return (None, paused);
            }
            changed = gate.changed(), if alive => {
                alive = changed.is_ok();
                let open = gate.borrow_and_update().is_open();
                match (open, paused_since) {
                    (false, None) => paused_since = Some(Instant::now()),
                    (true, Some(since)) => {
                        let lasted = since.elapsed();
                        paused += lasted;
                        deadline += lasted;
                        paused_since = None;
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paused_time_does_not_count_toward_the_timeout() {
        let (tx, rx) = watch::channel(Gate::Open);
        let work = tokio::time::sleep(Duration::from_secs(8));
        let toggler = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            tx.send_replace(Gate::Paused("test".into()));
            tokio::time::sleep(Duration::from_secs(5)).await;
            tx.send_replace(Gate::Open);
            tx
        });
        // 8 s of work within a 5 s timeout would time out; 2 s run, 5 s paused, the work ends
        // at 8 s wall, 3 s of running time: within.
        let (output, paused) = run_unpaused(&rx, Duration::from_secs(5), work).await;
        assert!(output.is_some(), "finished within its running time");
        assert_eq!(paused.as_secs(), 5);
        drop(toggler.await);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_gate_keeps_the_plain_timeout() {
        let (_tx, rx) = watch::channel(Gate::Open);
        let (output, paused) = run_unpaused(
            &rx,
            Duration::from_secs(1),
            tokio::time::sleep(Duration::from_secs(3)),
        )
        .await;
        assert!(output.is_none());
        assert_eq!(paused, Duration::ZERO);
        // A gate nobody drives any more changes nothing.
        let (tx, rx) = watch::channel(Gate::Open);
        drop(tx);
        let (output, _) = run_unpaused(
            &rx,
            Duration::from_secs(3),
            tokio::time::sleep(Duration::from_secs(1)),
        )
        .await;
        assert!(output.is_some());
    }
}
