//! What each worker message means: validated here, then handed to the task core as a report.
//! Fencing (task, attempt, node) happens where the report is written.

use std::sync::Arc;
use std::time::Instant;

use canopy_shared::protocol::{
    decode_body, Outcome, TaskResult, WorkerMessage, MAX_RESPONSE_BYTES,
};
use uuid::Uuid;

use super::session::Refusal;
use crate::db;
use crate::dispatch::SessionHandle;
use crate::state::AppState;
use crate::tasks::reports::Finish;
use crate::tasks::{self, Report, ReportKind, TaskStatus};

/// Handles one message; `Ok(true)` when it was about an attempt this connection holds (or
/// granted credits it had room for), so it does not spend the flood budget.
pub(super) async fn handle(
    state: &Arc<AppState>,
    session: &Arc<SessionHandle>,
    message: WorkerMessage,
) -> Result<bool, Refusal> {
    let (task, attempt, kind) = match message {
        WorkerMessage::Hello(_) => {
            return Err(Refusal::new(
                "DUPLICATE_HELLO",
                "hello was already received",
            ))
        }
        WorkerMessage::Goodbye { .. } => return Ok(false),
        WorkerMessage::OwnerPaused { reason } => {
            owner_pause(state, session, Some(reason)).await?;
            return Ok(false);
        }
        WorkerMessage::OwnerResumed => {
            owner_pause(state, session, None).await?;
            return Ok(false);
        }
        WorkerMessage::Prewarmed {
            request_id,
            started,
        } => {
            let request = canopy_shared::parse_id(&request_id).ok_or_else(|| {
                Refusal::new(
                    "MALFORMED_MESSAGE",
                    format!("{request_id:?} is not a request id"),
                )
            })?;
            state.prewarms.answer(request, session.node_id, started);
            return Ok(false);
        }
        WorkerMessage::Heartbeat(beat) => {
            let running = beat
                .running
                .iter()
                .map(|id| task_uuid(id))
                .collect::<Result<Vec<_>, _>>()?;
            session.set_reported_running(running);
            session.set_warm(beat.warm_functions);
            return Ok(false);
        }
        WorkerMessage::Energy(energy) => {
            super::energy::check(&energy)?;
            session.set_energy(energy);
            state.carbon_feeds.apply(session);
            // A renewable-only node may have just come under its threshold.
            state.scheduler.wake();
            return Ok(false);
        }
        WorkerMessage::Pull { credits } => {
            let grew = state.registry.add_credits(session, credits);
            if grew {
                state.scheduler.nudge();
            }
            return Ok(grew);
        }
        WorkerMessage::Started { task_id, attempt } => {
            (task_uuid(&task_id)?, attempt, ReportKind::Started)
        }
        WorkerMessage::Progress {
            task_id,
            attempt,
            percent,
        } => (
            task_uuid(&task_id)?,
            attempt,
            ReportKind::Progress(i16::from(percent.min(100))),
        ),
        WorkerMessage::Result(result) => {
            let task = task_uuid(&result.task_id)?;
            let held = session.holds(task);
            let early = session.early_since(task);
            // What the attempt held is free now, whatever the database says of the result, and
            // its credit is back before the caller is answered (`TaskResult::regrant`).
            session.release(task);
            if result.regrant && state.registry.add_credits(session, 1) {
                state.scheduler.nudge();
            }
            // Only the node holding the attempt may pin its function's image.
            if let Some(pin) = result.image_pin.as_ref().filter(|_| held) {
                if let Err(error) = tasks::record_image_pin(state, task, pin).await {
                    tracing::warn!(%error, "could not record a custom image pin");
                }
            }
            let (attempt, kind) = outcome(result)?;
            return report(state, session, (task, attempt), Held::Result(early), kind)
                .await
                .map(|()| held);
        }
    };
    let held = session.holds(task);
    report(state, session, (task, attempt), Held::Plain(held), kind).await?;
    Ok(held)
}

/// Whether the connection holds the attempt a report is about.
enum Held {
    /// A start or progress report: held or not.
    Plain(bool),
    /// A result: since when the connection holds the attempt, when its output may reach this
    /// replica's waiters early (held, and not a vote).
    Result(Option<Instant>),
}

async fn report(
    state: &AppState,
    session: &Arc<SessionHandle>,
    (task, attempt): (Uuid, u32),
    held: Held,
    kind: ReportKind,
) -> Result<(), Refusal> {
    let (held, given_at) = match held {
        Held::Plain(held) => (held, None),
        Held::Result(since) => (since.is_some(), since),
    };
    let report = Report {
        session: Arc::clone(session),
        held,
        given_at,
        task,
        attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
        at: chrono::Utc::now(),
        kind,
    };
    tasks::record_report(state, report)
        .await
        .map_err(|_| Refusal::new("UNAVAILABLE", "the dispatcher is shutting down"))
}

/// The owner paused (`Some(reason)`) or resumed the node: while paused it holds no credits, so
/// nothing is assigned to it, and its frozen attempts' deadlines wait.
async fn owner_pause(
    state: &AppState,
    session: &Arc<SessionHandle>,
    reason: Option<String>,
) -> Result<(), Refusal> {
    let unavailable = |error: sqlx::Error| {
        tracing::error!(error = %error, "could not record the owner's pause");
        Refusal::new("UNAVAILABLE", "the dispatcher cannot reach its database")
    };
    let mut conn = state.pool.acquire().await.map_err(unavailable)?;
    match reason {
        Some(reason) => {
            let reason: String = reason.chars().take(200).collect();
            session.take_credits(u32::MAX);
            state.registry.settle(session);
            db::owner_pause::pause(&mut conn, session.node_id, &reason)
                .await
                .map_err(unavailable)?;
            tracing::info!(reason = %reason, "node paused by its owner");
        }
        None => {
            db::owner_pause::resume(&mut conn, session.node_id)
                .await
                .map_err(unavailable)?;
            tracing::info!("node resumed by its owner");
        }
    }
    Ok(())
}

/// A result as the task core records it.
fn outcome(result: TaskResult) -> Result<(u32, ReportKind), Refusal> {
    let timings = result.timings;
    // Measured on the worker; refused when it is not a sane figure.
    let usage = result.usage.filter(|usage| {
        usage.cpu_seconds.is_finite()
            && usage.energy_wh.is_finite()
            && usage.cpu_seconds >= 0.0
            && usage.energy_wh >= 0.0
    });
    let (cpu_seconds, energy_wh) = (
        usage.map(|usage| usage.cpu_seconds),
        usage.map(|usage| usage.energy_wh),
    );
    let init_ms = i32::try_from(timings.init_ms).unwrap_or(i32::MAX);
    let exec_ms = i32::try_from(timings.exec_ms).unwrap_or(i32::MAX);
    let without_response = |status, kind, message: String| Finish {
        status,
        response_status: None,
        content_type: None,
        body: None,
        error_kind: Some(kind),
        error_message: Some(message),
        init_ms,
        exec_ms,
        warm: timings.warm,
        cpu_seconds,
        energy_wh,
    };
    let kind = match result.outcome {
        Outcome::Response {
            status,
            content_type,
            body,
            error,
        } => {
            if !(100..=599).contains(&status) {
                return Err(Refusal::new(
                    "MALFORMED_MESSAGE",
                    format!("status {status} is not an HTTP status"),
                ));
            }
            let bytes = decode_body(&body).map_err(|_| {
                Refusal::new("MALFORMED_MESSAGE", "the response body is not base64")
            })?;
            if bytes.len() > MAX_RESPONSE_BYTES {
                return Err(Refusal::new(
                    "RESPONSE_TOO_LARGE",
                    format!("responses are limited to {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
            ReportKind::Finished(Finish {
                status: if error.is_some() {
                    TaskStatus::Failed
                } else {
                    TaskStatus::Succeeded
                },
                response_status: Some(i32::from(status)),
                content_type,
                body: Some(bytes),
                error_kind: error.as_ref().map(|_| "handler_error"),
                error_message: error,
                init_ms,
                exec_ms,
                warm: timings.warm,
                cpu_seconds,
                energy_wh,
            })
        }
        Outcome::TimedOut { message } => {
            ReportKind::Finished(without_response(TaskStatus::TimedOut, "timeout", message))
        }
        Outcome::Failed {
            message,
            retryable: true,
        } => ReportKind::Retry(message),
        Outcome::Failed {
            message,
            retryable: false,
        } => ReportKind::Finished(without_response(
            TaskStatus::Failed,
            failure_kind(&message),
            message,
        )),
    };
    Ok((result.attempt, kind))
}

/// The error kind of a failure that is the function's own (the worker's message starts with
/// its code: `docs/security.md`).
fn failure_kind(message: &str) -> &'static str {
    [
        ("OOM_KILLED", "oom_killed"),
        ("FUNCTION_CRASHED", "function_crashed"),
        ("RESPONSE_TOO_LARGE", "response_too_large"),
    ]
    .into_iter()
    .find(|(code, _)| message.starts_with(code))
    .map_or("execution_failed", |(_, kind)| kind)
}

fn task_uuid(text: &str) -> Result<Uuid, Refusal> {
    canopy_shared::parse_id(text)
        .ok_or_else(|| Refusal::new("MALFORMED_MESSAGE", format!("{text:?} is not a task id")))
}
