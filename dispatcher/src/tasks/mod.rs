//! The task core: the one owner of the task lifecycle. Routes, the worker gateway and the
//! background loops call these operations; none of them writes task SQL (that lives in `db/`
//! beneath this module). No actix here.
//!
//! - `submit` — a new task, group-committed with concurrent submissions and, when a connected
//!   worker has credits, assigned to it in the same commit (`commit`);
//! - `record_report` — `started`, `progress` and results from workers, written in batches
//!   (`reports`);
//! - `wait`, `cancel`, `explain` — for callers;
//! - `record_image_pin` — the image id a custom image function is pinned to;
//! - `requeue` — every way an attempt goes back to the queue, and the sweeper;
//! - `prewarm` — containers of a function started on workers ahead of its tasks;
//! - `scheduler` — the claim path for tasks that were queued;
//! - `liveness` — heartbeats: node liveness and lease renewal.

mod cancel;
mod carbon;
mod commit;
mod error;
mod explain;
mod images;
pub mod liveness;
mod placement;
mod prewarm;
mod queues;
pub mod reports;
pub mod requeue;
pub mod scheduler;
mod snapshots;
mod status;
mod submit;
mod votes;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use cancel::cancel;
pub use error::TaskError;
pub use explain::explain;
pub use images::record_image_pin;
pub use prewarm::{prewarm, relay as relay_prewarm, MAX_INSTANCES as MAX_PREWARM_INSTANCES};
pub use queues::{Queues, TaskQueues};
pub use reports::{record_report, Report, ReportKind};
pub use scheduler::Scheduler;
pub use snapshots::FunctionSnapshots;
pub use status::TaskStatus;
pub use submit::{submit, IdempotencyKey, Request, Submission, Submitted};
pub use wait::{submit_and_wait, wait};

use crate::state::AppState;

/// Starts the background loops of the task core; they stop when `shutdown` is cancelled.
pub fn spawn_loops(state: &Arc<AppState>, queues: Queues, shutdown: &CancellationToken) {
    let submissions = Arc::new(tokio::sync::Mutex::new(queues.submissions));
    for _ in 0..state.dispatch.committers.max(1) {
        tokio::spawn(commit::run(
            Arc::clone(state),
            Arc::clone(&submissions),
            shutdown.clone(),
        ));
    }
    tokio::spawn(reports::run(
        Arc::clone(state),
        queues.reports,
        shutdown.clone(),
    ));
    tokio::spawn(scheduler::run(Arc::clone(state), shutdown.clone()));
    tokio::spawn(liveness::run(Arc::clone(state), shutdown.clone()));
    tokio::spawn(requeue::run_sweeper(Arc::clone(state), shutdown.clone()));
}

/// How often a waiter re-reads its task, in case a notification was missed.
const WAIT_RECHECK: Duration = Duration::from_secs(1);
