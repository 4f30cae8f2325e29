//! What each worker message means: validated here, then handed to the task core as a report.
//! Fencing (task, attempt, node) happens where the report is written.

use std::sync::Arc;

use canopy_shared::protocol::{
    decode_body, Outcome, TaskResult, WorkerMessage, MAX_RESPONSE_BYTES,
};
use uuid::Uuid;

use super::session::Refusal;
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
            // What the attempt held is free now, whatever the database says of the result.
            session.release(task);
            let (attempt, kind) = outcome(result)?;
            return report(state, session, (task, attempt), held, kind)
                .await
                .map(|()| held);
        }
    };
    let held = session.holds(task);
    report(state, session, (task, attempt), held, kind).await?;
    Ok(held)
}

async fn report(
    state: &AppState,
    session: &Arc<SessionHandle>,
    (task, attempt): (Uuid, u32),
    held: bool,
    kind: ReportKind,
) -> Result<(), Refusal> {
    let report = Report {
        session: Arc::clone(session),
        held,
        task,
        attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
        at: chrono::Utc::now(),
        kind,
    };
    tasks::record_report(state, report)
        .await
        .map_err(|_| Refusal::new("UNAVAILABLE", "the dispatcher is shutting down"))
}

/// A result as the task core records it.
fn outcome(result: TaskResult) -> Result<(u32, ReportKind), Refusal> {
    let timings = result.timings;
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
