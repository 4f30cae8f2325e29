//! Submits the tasks of recorded firings. The database records a firing in the same
//! transaction as its source task's final status (migration `triggers`); here each replica
//! claims pending firings (`SKIP LOCKED`, with a claim that runs out if the replica dies) and
//! submits the next task under an idempotency key named after the firing, so a firing
//! submitted twice (a crash between the submission and `settle`) still makes one task.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::TriggerSettings;
use crate::db;
use crate::db::triggers::Firing;
use crate::quotas::QuotaExceeded;
use crate::state::AppState;
use crate::tasks::{self, IdempotencyKey, Request, Submission, TaskError};

/// Firings claimed per pass.
const BATCH: i64 = 64;
/// How long a claim holds a firing against other replicas, seconds.
const CLAIM_S: f64 = 30.0;

/// What became of one firing.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Fired(Uuid),
    Refused(&'static str),
    /// Not the firing's fault (database, shutdown): its claim runs out and it is tried again.
    Later,
}

pub(super) async fn run(
    state: Arc<AppState>,
    settings: TriggerSettings,
    shutdown: CancellationToken,
) {
    let poll = Duration::from_millis(settings.poll_ms.max(10));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = state.triggers.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
        loop {
            match run_once(&state, &settings).await {
                Ok(claimed) if claimed as i64 == BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "could not submit triggered tasks; retrying");
                    break;
                }
            }
        }
    }
}

/// One pass: claims pending firings and submits their tasks; returns how many it claimed.
pub async fn run_once(state: &AppState, settings: &TriggerSettings) -> sqlx::Result<usize> {
    let mut conn = state.pool.acquire().await?;
    let firings = db::triggers::claim(&mut conn, BATCH, CLAIM_S).await?;
    // No connection is held while submitting: the group commit needs one.
    drop(conn);
    let outcomes =
        futures_util::future::join_all(firings.iter().map(|firing| fire(state, settings, firing)))
            .await;
    let mut conn = state.pool.acquire().await?;
    for (firing, outcome) in firings.iter().zip(outcomes) {
        let depth = firing.source_depth + 1;
        match outcome {
            Outcome::Fired(task) => {
                db::triggers::settle(&mut conn, firing.id, depth, Some(task), None).await?;
            }
            Outcome::Refused(code) => {
                tracing::info!(trigger.id = %canopy_shared::format_id(firing.trigger_id), code, "trigger refused");
                db::triggers::settle(&mut conn, firing.id, depth, None, Some(code)).await?;
            }
            Outcome::Later => {}
        }
    }
    Ok(firings.len())
}

async fn fire(state: &AppState, settings: &TriggerSettings, firing: &Firing) -> Outcome {
    let depth = firing.source_depth + 1;
    if depth > settings.max_depth {
        return Outcome::Refused("CHAIN_TOO_DEEP");
    }
    match tasks::submit(state, submission(firing, depth)).await {
        Ok(submitted) => Outcome::Fired(submitted.id),
        Err(TaskError::FunctionNotFound(_)) => Outcome::Refused("FUNCTION_NOT_FOUND"),
        Err(TaskError::FunctionPaused) => Outcome::Refused("FUNCTION_PAUSED"),
        Err(TaskError::NoRunner) => Outcome::Refused("NO_RUNNER"),
        Err(TaskError::BuildFailed(_)) => Outcome::Refused("BUILD_FAILED"),
        // Tomorrow is too late for a chain; a live-task limit frees up, so that one waits.
        Err(TaskError::QuotaExceeded(QuotaExceeded::TasksPerDay { .. })) => {
            Outcome::Refused("NO_QUOTA_AVAILABLE")
        }
        Err(error) => {
            tracing::warn!(error = %error, "a triggered task could not be submitted; retrying later");
            Outcome::Later
        }
    }
}

/// The next task: POST, with the source's response as its body when `includeResult`, and
/// headers naming the trigger, the parent task, its status and the chain's depth.
fn submission(firing: &Firing, depth: i32) -> Submission {
    let format = canopy_shared::format_id;
    let mut headers = vec![
        ("x-canopy-trigger".to_owned(), format(firing.trigger_id)),
        (
            "x-canopy-parent-task".to_owned(),
            format(firing.source_task_id),
        ),
        (
            "x-canopy-parent-status".to_owned(),
            firing.source_status.clone(),
        ),
        ("x-canopy-chain-depth".to_owned(), depth.to_string()),
    ];
    if let Some(status) = firing.response_status {
        headers.push(("x-canopy-parent-http-status".to_owned(), status.to_string()));
    }
    let (content_type, body) = if firing.include_result {
        (
            firing.response_content_type.clone(),
            firing.response_body.clone().unwrap_or_default(),
        )
    } else {
        (None, Vec::new())
    };
    Submission {
        account_id: firing.account_id,
        function_id: firing.next_id,
        request: Request {
            method: "POST".to_owned(),
            query: String::new(),
            headers,
            content_type,
            body,
        },
        // Not a header a client can send (control character), so no caller's key collides.
        idempotency: Some(IdempotencyKey {
            key: format!("\u{1}trigger:{}", format(firing.id)),
            request_hash: Sha256::digest(firing.id.as_bytes()).to_vec(),
        }),
        priority: 0,
        deadline: None,
        defer_until: None,
    }
}
