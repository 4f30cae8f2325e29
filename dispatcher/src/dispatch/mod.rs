//! Dispatching tasks to connected workers: the session registry, the scheduler that claims
//! queued tasks for nodes with credits, completion waiters for `Prefer: wait` callers, and the
//! LISTEN/NOTIFY link that makes replicas act as one.

mod completions;
mod listener;
mod metrics;
mod registry;
mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use completions::Completions;
pub use metrics::Metrics;
pub use registry::{Registry, SessionHandle};

use crate::db;
use crate::db::tasks::TaskOutput;
use crate::settings::DispatchSettings;

/// How often a waiter re-reads its task, in case a notification was missed (e.g. while the
/// listener reconnected).
const WAIT_RECHECK: Duration = Duration::from_secs(1);

/// Shared dispatch state, built once at start and passed to routes and sessions.
#[derive(Debug)]
pub struct Dispatch {
    /// This replica, in `replicas` and on the nodes whose sockets it holds.
    pub replica_id: Uuid,
    pub pool: PgPool,
    pub settings: DispatchSettings,
    pub registry: Registry,
    pub completions: Completions,
    pub metrics: Metrics,
    wake: Notify,
}

impl Dispatch {
    pub fn new(pool: PgPool, settings: DispatchSettings) -> Arc<Self> {
        Arc::new(Dispatch {
            replica_id: canopy_shared::new_id(),
            pool,
            settings,
            registry: Registry::default(),
            completions: Completions::default(),
            metrics: Metrics::default(),
            wake: Notify::new(),
        })
    }

    /// Attempts before a task fails for good (as the database's integer).
    pub fn max_attempts(&self) -> i32 {
        i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX)
    }

    /// Asks the scheduler to look for work now (new task, new credits, unpause).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Records this replica as alive (before it accepts workers).
    pub async fn register_replica(&self) -> sqlx::Result<()> {
        let mut conn = self.pool.acquire().await?;
        db::nodes::beat_replica(&mut conn, self.replica_id).await
    }

    /// Starts the background loops; they stop when `shutdown` is cancelled.
    pub fn spawn_loops(self: &Arc<Self>, shutdown: CancellationToken) {
        tokio::spawn(scheduler::run(Arc::clone(self), shutdown.clone()));
        tokio::spawn(scheduler::run_liveness(Arc::clone(self), shutdown.clone()));
        tokio::spawn(scheduler::run_sweeper(Arc::clone(self), shutdown.clone()));
        tokio::spawn(listener::run(Arc::clone(self), shutdown));
    }

    /// One scheduling pass (tests call it to avoid waiting).
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        scheduler::run_once(self).await
    }

    /// Waits up to `wait` for a task of `account_id` to end; returns its output as it is then
    /// (`None` when the task does not exist).
    pub async fn wait_for_end(
        &self,
        account_id: Uuid,
        task: Uuid,
        wait: Duration,
    ) -> sqlx::Result<Option<TaskOutput>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let finished = self.completions.subscribe(task);
            let output = {
                let mut conn = self.pool.acquire().await?;
                db::tasks::output(&mut conn, account_id, task).await?
            };
            let done = output
                .as_ref()
                .is_none_or(|output| is_final(&output.status));
            let now = tokio::time::Instant::now();
            if done || now >= deadline {
                self.completions.forget_abandoned(task);
                return Ok(output);
            }
            let pause = (deadline - now).min(WAIT_RECHECK);
            let _ = tokio::time::timeout(pause, finished).await;
        }
    }
}

/// Whether a task status is final (its output will not change).
pub fn is_final(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "timed_out" | "cancelled")
}
