//! `submit`: the one way a task comes into being, whatever started it (the task API, and later
//! the Serverledge facade, public endpoints, triggers and schedules).

use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::queues::Reply;
use super::{commit, TaskError};
use crate::state::AppState;

/// The caller's request, replayed to the function.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Headers passed on to the function (already filtered), lowercase names.
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// `Idempotency-Key` with the hash of what makes two requests the same.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: Vec<u8>,
}

/// A request for one execution.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The account the task belongs to (only its functions can be named).
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub request: Request,
    pub idempotency: Option<IdempotencyKey>,
    /// Higher runs first among queued tasks; 0 by default.
    pub priority: i16,
    /// A queued task not taken by then fails with `deadline_exceeded`.
    pub deadline: Option<DateTime<Utc>>,
    /// `Prefer: defer`: the task must finish by then and may be held until a greener window.
    pub defer_until: Option<DateTime<Utc>>,
}

/// A durable task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub id: Uuid,
    /// The idempotency key named a task created earlier; this is that task.
    pub replayed: bool,
}

/// A submission waiting for its group commit.
#[derive(Debug)]
pub(super) struct Pending {
    pub id: Uuid,
    pub submission: Submission,
    pub reply: Reply,
    pub received: Instant,
}

/// Records a task durably (the answer comes after its commit) and, when a worker connected to
/// this replica has credits and fits, assigns it in the same commit. Submissions are
/// group-committed with whatever else arrived meanwhile, except those with an idempotency key or
/// of an account with a task quota: their claim or check and the task share one transaction.
pub async fn submit(state: &AppState, submission: Submission) -> Result<Submitted, TaskError> {
    submit_as(state, canopy_shared::new_id(), submission).await
}

/// `submit` with the id the new task gets (a waiter may subscribe to it first).
pub(super) async fn submit_as(
    state: &AppState,
    id: Uuid,
    submission: Submission,
) -> Result<Submitted, TaskError> {
    let received = Instant::now();
    let quota = state
        .quotas
        .quota(&state.pool, submission.account_id)
        .await?;
    if submission.idempotency.is_some() || quota.meters_tasks() {
        return commit::commit_alone(state, id, submission, received, quota).await;
    }
    let (reply, answer) = oneshot::channel();
    let pending = Pending {
        id,
        submission,
        reply,
        received,
    };
    state
        .queues
        .submissions
        .send(pending)
        .await
        .map_err(|_| TaskError::ShuttingDown)?;
    answer.await.map_err(|_| TaskError::ShuttingDown)?
}
