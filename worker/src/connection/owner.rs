//! The owner's pause as the connection sees it: no credits while the volunteer's conditions do
//! not hold, `ownerPaused`/`ownerResumed` to the dispatcher, and running tasks handed back when
//! the pause outlasts its bound (they stay assigned, frozen, until then).

use std::time::{Duration, Instant};

use canopy_shared::protocol::{Outcome, TaskResult, WorkerMessage};
use tokio::sync::watch;
use tracing::{info, warn};

use super::wire::Outbox;
use super::Supervisor;
use crate::executor::TaskRunner;
use crate::volunteer::Gate;

/// The gate and what the connection did about it.
pub(super) struct OwnerPause {
    gate: watch::Receiver<Gate>,
    /// False once the monitor is gone (the gate then stays as it was).
    alive: bool,
    handback: Duration,
    /// When the current pause started (`None` while open).
    since: Option<Instant>,
    /// The running tasks of this pause were handed back.
    handed_back: bool,
}

impl Default for OwnerPause {
    /// A gate that is always open.
    fn default() -> Self {
        Self::new(watch::channel(Gate::Open).1, Duration::MAX)
    }
}

impl OwnerPause {
    pub(super) fn new(gate: watch::Receiver<Gate>, handback: Duration) -> Self {
        let since = (!gate.borrow().is_open()).then(Instant::now);
        OwnerPause {
            gate,
            alive: true,
            handback,
            since,
            handed_back: false,
        }
    }

    /// Whether the owner's conditions hold.
    pub(super) fn is_open(&self) -> bool {
        self.gate.borrow().is_open()
    }

    fn reason(&self) -> Option<String> {
        match &*self.gate.borrow() {
            Gate::Open => None,
            Gate::Paused(reason) => Some(reason.clone()),
        }
    }

    /// Waits for the gate to change (never returns once the monitor is gone).
    pub(super) async fn changed(&mut self) {
        if self.alive && self.gate.changed().await.is_ok() {
            return;
        }
        self.alive = false;
        std::future::pending::<()>().await
    }

    /// When running tasks are handed back, while a pause lasts and they were not yet.
    pub(super) fn handback_at(&self) -> Option<Instant> {
        match (self.since, self.handed_back) {
            (Some(since), false) => since.checked_add(self.handback),
            _ => None,
        }
    }

    /// A result of a task handed back by this pause carries why.
    pub(super) fn explain(&self, result: &mut TaskResult) {
        if self.handed_back && matches!(result.outcome, Outcome::Failed { .. }) {
            result.outcome = Outcome::Failed {
                message: format!(
                    "handed back: the owner paused the node for longer than {} s",
                    self.handback.as_secs()
                ),
                retryable: true,
            };
        }
    }
}

impl<R: TaskRunner> Supervisor<R> {
    /// After `welcome`: tells the dispatcher about a pause that is on (it does not know).
    pub(super) fn announce_owner_pause(&mut self, outbox: &Outbox) {
        if let Some(reason) = self.owner.reason() {
            let _ = outbox.send(WorkerMessage::OwnerPaused { reason });
        }
    }

    /// The gate changed: tell the dispatcher; on resume, pull again for the free slots.
    pub(super) fn on_owner_gate(&mut self, outbox: &Outbox, may_pull: bool) {
        match (self.owner.reason(), self.owner.since) {
            (Some(reason), None) => {
                info!(%reason, running = self.running.len(), "paused by the owner's conditions");
                self.owner.since = Some(Instant::now());
                self.owner.handed_back = false;
                let _ = outbox.send(WorkerMessage::OwnerPaused { reason });
            }
            (Some(reason), Some(_)) => {
                // Another reason for the same pause: the dispatcher shows the latest.
                let _ = outbox.send(WorkerMessage::OwnerPaused { reason });
            }
            (None, Some(since)) => {
                info!(
                    paused_ms = since.elapsed().as_millis() as u64,
                    "the owner's conditions hold again"
                );
                self.owner.since = None;
                self.owner.handed_back = false;
                let _ = outbox.send(WorkerMessage::OwnerResumed);
                let free =
                    (self.resources.max_concurrency as usize).saturating_sub(self.running.len());
                if may_pull && free > 0 {
                    let _ = outbox.send(WorkerMessage::Pull {
                        credits: free as u32,
                    });
                }
            }
            (None, None) => {}
        }
    }

    /// The pause outlasted its bound: running tasks go back to the dispatcher (retryable).
    pub(super) fn hand_back_for_owner(&mut self) {
        warn!(
            running = self.running.len(),
            bound_s = self.owner.handback.as_secs(),
            "the owner's pause outlasted its bound: handing running tasks back"
        );
        self.owner.handed_back = true;
        self.cancel_all();
    }
}
