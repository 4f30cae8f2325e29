//! What each worker message does to tasks. Transitions are guarded by task, attempt and node,
//! so a message about an attempt that is no longer current changes nothing.

use std::sync::Arc;

use canopy_shared::protocol::{decode_body, Outcome, TaskResult, WorkerMessage};
use uuid::Uuid;

use super::session::Refusal;
use crate::db;
use crate::db::assignments::Finish;
use crate::db::requeue::Requeue;
use crate::dispatch::{Dispatch, Metrics, SessionHandle};

/// Largest function response stored, bytes (the body travels base64 in one frame).
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

pub(super) async fn handle(
    dispatch: &Arc<Dispatch>,
    session: &Arc<SessionHandle>,
    message: WorkerMessage,
) -> Result<(), Refusal> {
    match message {
        WorkerMessage::Hello(_) => Err(Refusal::new(
            "DUPLICATE_HELLO",
            "hello was already received",
        )),
        WorkerMessage::Goodbye { .. } => Ok(()),
        WorkerMessage::Heartbeat(beat) => {
            let running = beat
                .running
                .iter()
                .map(|id| task_uuid(id))
                .collect::<Result<Vec<_>, _>>()?;
            session.set_reported_running(running);
            Ok(())
        }
        WorkerMessage::Pull { credits } => {
            session.add_credits(credits);
            dispatch.wake();
            Ok(())
        }
        WorkerMessage::Started { task_id, attempt } => {
            let task = task_uuid(&task_id)?;
            let mut conn = connection(dispatch).await?;
            let current = db::assignments::mark_started(
                &mut conn,
                task,
                attempt_i32(attempt),
                session.node_id,
            )
            .await
            .map_err(|e| unavailable(&e))?;
            if !current {
                return not_current(dispatch, session, &mut conn, task, attempt).await;
            }
            Ok(())
        }
        WorkerMessage::Progress {
            task_id,
            attempt,
            percent,
        } => {
            let task = task_uuid(&task_id)?;
            let percent = i16::from(percent.min(100));
            let mut conn = connection(dispatch).await?;
            let current = db::assignments::set_progress(
                &mut conn,
                task,
                attempt_i32(attempt),
                session.node_id,
                percent,
            )
            .await
            .map_err(|e| unavailable(&e))?;
            if !current {
                return not_current(dispatch, session, &mut conn, task, attempt).await;
            }
            Ok(())
        }
        WorkerMessage::Result(result) => record_result(dispatch, session, result).await,
    }
}

async fn record_result(
    dispatch: &Arc<Dispatch>,
    session: &Arc<SessionHandle>,
    result: TaskResult,
) -> Result<(), Refusal> {
    let task = task_uuid(&result.task_id)?;
    let attempt = attempt_i32(result.attempt);
    let node = session.node_id;
    session.release(task);
    let timings = result.timings;
    let init_ms = i32::try_from(timings.init_ms).unwrap_or(i32::MAX);
    let exec_ms = i32::try_from(timings.exec_ms).unwrap_or(i32::MAX);
    let mut conn = connection(dispatch).await?;
    let recorded = match result.outcome {
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
            let end = Finish {
                status: if error.is_some() {
                    "failed"
                } else {
                    "succeeded"
                },
                response_status: Some(i32::from(status)),
                response_content_type: content_type.as_deref(),
                response_body: Some(&bytes),
                error_kind: error.as_ref().map(|_| "handler_error"),
                error_message: error.as_deref(),
                init_ms,
                exec_ms,
                warm: timings.warm,
            };
            db::assignments::finish(&mut conn, task, attempt, node, &end)
                .await
                .map_err(|e| unavailable(&e))?
        }
        Outcome::TimedOut { message } => {
            let end = Finish::without_response(
                "timed_out",
                "timeout",
                &message,
                init_ms,
                exec_ms,
                timings.warm,
            );
            db::assignments::finish(&mut conn, task, attempt, node, &end)
                .await
                .map_err(|e| unavailable(&e))?
        }
        Outcome::Failed {
            message,
            retryable: true,
        } => {
            let why = Requeue {
                kind: "worker_error",
                message: &message,
                backoff: true,
                max_attempts: dispatch.max_attempts(),
            };
            let requeued =
                db::requeue::requeue_attempts(&mut conn, &[task], &[attempt], Some(node), &why)
                    .await
                    .map_err(|e| unavailable(&e))?
                    == 1;
            if requeued {
                Metrics::incr(&dispatch.metrics.tasks_retried);
                tracing::info!(task.id = %result.task_id, attempt, reason = %message, "attempt failed on the worker; retrying");
                dispatch.wake();
            }
            requeued
        }
        Outcome::Failed {
            message,
            retryable: false,
        } => {
            let end = Finish::without_response(
                "failed",
                "execution_failed",
                &message,
                init_ms,
                exec_ms,
                timings.warm,
            );
            db::assignments::finish(&mut conn, task, attempt, node, &end)
                .await
                .map_err(|e| unavailable(&e))?
        }
    };
    if !recorded {
        return not_current(dispatch, session, &mut conn, task, result.attempt).await;
    }
    Metrics::incr(&dispatch.metrics.results_recorded);
    dispatch.completions.complete(task);
    Ok(())
}

/// A message that changed nothing: stale (an older attempt of a task, or one already ended) is
/// counted and ignored; one about a task this node never held is a protocol violation.
async fn not_current(
    dispatch: &Dispatch,
    session: &SessionHandle,
    conn: &mut sqlx::PgConnection,
    task: Uuid,
    attempt: u32,
) -> Result<(), Refusal> {
    let current = db::assignments::current_attempt(conn, task)
        .await
        .map_err(|e| unavailable(&e))?;
    let foreign = match current {
        None => true,
        Some((current_attempt, node)) => {
            let attempt = attempt_i32(attempt);
            attempt > current_attempt
                || (attempt == current_attempt && node != Some(session.node_id))
        }
    };
    if foreign {
        return Err(Refusal::new(
            "FOREIGN_TASK",
            format!(
                "task {} attempt {attempt} was never assigned to this node",
                canopy_shared::format_id(task)
            ),
        ));
    }
    Metrics::incr(&dispatch.metrics.stale_messages);
    tracing::info!(task.id = %canopy_shared::format_id(task), attempt, "message for an attempt that is not current; refused");
    Ok(())
}

fn task_uuid(text: &str) -> Result<Uuid, Refusal> {
    canopy_shared::parse_id(text)
        .ok_or_else(|| Refusal::new("MALFORMED_MESSAGE", format!("{text:?} is not a task id")))
}

fn attempt_i32(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

/// A pooled connection; a database failure closes this worker's connection (it reconnects),
/// never the dispatcher.
async fn connection(
    dispatch: &Dispatch,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Refusal> {
    dispatch
        .pool
        .acquire()
        .await
        .map_err(|error| unavailable(&error))
}

fn unavailable(error: &sqlx::Error) -> Refusal {
    tracing::error!(error = %error, "database error while handling a worker message");
    Refusal::new("UNAVAILABLE", "the dispatcher cannot reach its database")
}
