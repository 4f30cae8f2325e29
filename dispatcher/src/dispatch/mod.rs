//! Dispatching tasks to connected workers: the session registry, the scheduler that claims
//! queued tasks for nodes with credits, and completion waiters for `Prefer: wait` callers.

mod completions;
mod registry;
mod scheduler;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use completions::Completions;
pub use registry::{Registry, SessionHandle};

use crate::settings::DispatchSettings;

/// Shared dispatch state, built once at start and passed to routes and sessions.
#[derive(Debug)]
pub struct Dispatch {
    pub pool: PgPool,
    pub settings: DispatchSettings,
    pub registry: Registry,
    pub completions: Completions,
    wake: Notify,
}

impl Dispatch {
    pub fn new(pool: PgPool, settings: DispatchSettings) -> Arc<Self> {
        Arc::new(Dispatch {
            pool,
            settings,
            registry: Registry::default(),
            completions: Completions::default(),
            wake: Notify::new(),
        })
    }

    /// Asks the scheduler to look for work now (new task, new credits, unpause).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the background loops; they stop when `shutdown` is cancelled.
    pub fn spawn_loops(self: &Arc<Self>, shutdown: CancellationToken) {
        tokio::spawn(scheduler::run(Arc::clone(self), shutdown.clone()));
        tokio::spawn(scheduler::run_liveness(Arc::clone(self), shutdown));
    }

    /// One scheduling pass (tests call it to avoid waiting).
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        scheduler::run_once(self).await
    }

    /// After a node's socket closed: once the grace period passes without it coming back,
    /// re-queue its live tasks.
    pub fn schedule_lost_node_check(self: &Arc<Self>, node_id: uuid::Uuid) {
        let dispatch = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(
                dispatch.settings.disconnect_grace_s,
            ))
            .await;
            if dispatch.registry.get(node_id).is_some() {
                return;
            }
            match scheduler::requeue_lost_node(&dispatch, node_id).await {
                Ok(0) => {}
                Ok(count) => {
                    tracing::warn!(node.id = %canopy_shared::format_id(node_id), tasks = count, "node lost; its tasks were re-queued");
                    dispatch.wake();
                }
                Err(error) => {
                    tracing::error!(error = ?error, "could not re-queue a lost node's tasks")
                }
            }
        });
    }
}
