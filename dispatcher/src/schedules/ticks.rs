//! The schedule loop: claims schedules whose tick has come and submits one task per tick.
//! Exactly once across replicas: a claim (`SKIP LOCKED`, running out if the replica dies), an
//! idempotency key named after (schedule, tick) so a resubmission after a crash finds the first
//! task, and a unique (schedule, tick) run record.
//!
//! Missed ticks (the dispatcher was down): a schedule runs **once** for the ticks it missed, at
//! the earliest one's key, then continues from the next tick after now; the run records how many
//! ticks were skipped (`missed`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::cron::Cron;
use super::ScheduleSettings;
use crate::db;
use crate::db::schedules::Due;
use crate::quotas::QuotaExceeded;
use crate::state::AppState;
use crate::tasks::{self, IdempotencyKey, Request, Submission, TaskError};

const BATCH: i64 = 32;
const CLAIM_S: f64 = 30.0;
/// Most missed ticks counted (a schedule every minute down for a week stops counting here).
const MAX_MISSED: i32 = 100_000;

pub(super) async fn run(
    state: Arc<AppState>,
    settings: ScheduleSettings,
    shutdown: CancellationToken,
) {
    let poll = Duration::from_millis(settings.poll_ms.max(10));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
        if let Err(error) = run_once(&state).await {
            tracing::warn!(error = %error, "could not run due schedules; retrying");
        }
    }
}

/// The first tick strictly after `after`, as an instant (`None`: the expression never matches).
pub async fn next_tick(
    conn: &mut PgConnection,
    cron: &Cron,
    zone: &str,
    after: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let mut local = db::schedules::local_time(conn, after, zone).await?;
    // A local time that a DST change repeats may map to an instant not after `after`: take the
    // following local time then (each wall-clock time runs at most once).
    for _ in 0..4 {
        let Some(candidate) = cron.next_after(local) else {
            return Ok(None);
        };
        let instant = db::schedules::instant(conn, candidate, zone).await?;
        if instant > after {
            return Ok(Some(instant));
        }
        local = candidate;
    }
    Ok(None)
}

/// One pass over due schedules; returns how many it claimed.
pub async fn run_once(state: &AppState) -> sqlx::Result<usize> {
    let mut conn = state.pool.acquire().await?;
    let due = db::schedules::claim_due(&mut conn, BATCH, CLAIM_S).await?;
    drop(conn);
    for schedule in &due {
        tick(state, schedule).await?;
    }
    Ok(due.len())
}

async fn tick(state: &AppState, due: &Due) -> sqlx::Result<()> {
    let outcome = tasks::submit(state, submission(due)).await;
    let (task, error) = match outcome {
        Ok(submitted) => (Some(submitted.id), None),
        Err(TaskError::FunctionNotFound(_)) => (None, Some("FUNCTION_NOT_FOUND")),
        Err(TaskError::FunctionPaused) => (None, Some("FUNCTION_PAUSED")),
        Err(TaskError::NoRunner) => (None, Some("NO_RUNNER")),
        Err(TaskError::BuildFailed(_)) => (None, Some("BUILD_FAILED")),
        // The tick is skipped (and recorded); under a live-task limit it is tried again instead.
        Err(TaskError::QuotaExceeded(QuotaExceeded::TasksPerDay { .. })) => {
            (None, Some("NO_QUOTA_AVAILABLE"))
        }
        Err(error) => {
            // The claim runs out and the tick is tried again.
            tracing::warn!(error = %error, "a scheduled task could not be submitted");
            return Ok(());
        }
    };
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let (next, missed) = match Cron::parse(&due.cron) {
        Ok(cron) => {
            let missed = missed_between(&mut conn, &cron, &due.time_zone, due.tick, now).await?;
            (
                next_tick(&mut conn, &cron, &due.time_zone, now.max(due.tick)).await?,
                missed,
            )
        }
        Err(_) => (None, 0),
    };
    db::schedules::record_tick(&mut conn, due.id, due.tick, task, error, missed, next).await
}

/// Ticks after `tick` up to `now` that this run stands for (counted in local time).
async fn missed_between(
    conn: &mut PgConnection,
    cron: &Cron,
    zone: &str,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<i32> {
    if now - tick < chrono::Duration::minutes(1) {
        return Ok(0);
    }
    let mut local = db::schedules::local_time(conn, tick, zone).await?;
    let end = db::schedules::local_time(conn, now, zone).await?;
    let mut missed = 0;
    while let Some(next) = cron.next_after(local) {
        if next > end || missed >= MAX_MISSED {
            break;
        }
        missed += 1;
        local = next;
    }
    Ok(missed)
}

fn submission(due: &Due) -> Submission {
    let key = format!(
        "\u{1}schedule:{}:{}",
        canopy_shared::format_id(due.id),
        due.tick.timestamp()
    );
    submission_with(
        due.account_id,
        due.function_id,
        due.id,
        &due.payload_query,
        &due.payload_body,
        due.payload_content_type.clone(),
        Some(key),
    )
}

/// A task of a schedule's function with its payload (also for `try`, without a key).
pub(super) fn submission_with(
    account_id: Uuid,
    function_id: Uuid,
    schedule_id: Uuid,
    query: &str,
    body: &[u8],
    content_type: Option<String>,
    key: Option<String>,
) -> Submission {
    Submission {
        account_id,
        function_id,
        request: Request {
            method: "POST".to_owned(),
            query: query.to_owned(),
            headers: vec![(
                "x-canopy-schedule".to_owned(),
                canopy_shared::format_id(schedule_id),
            )],
            content_type,
            body: body.to_vec(),
        },
        idempotency: key.map(|key| IdempotencyKey {
            request_hash: Sha256::digest(key.as_bytes()).to_vec(),
            key,
        }),
        priority: 0,
        deadline: None,
        defer_until: None,
    }
}
