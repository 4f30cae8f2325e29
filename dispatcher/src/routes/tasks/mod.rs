//! `/v1/task/*`: ask for an execution, read it, replay its result, cancel it.

pub(super) mod attempts;
pub(super) mod create;
mod defer;
pub(super) mod read;
pub(super) mod result;
pub(super) mod retry;
pub(super) mod search;
pub(super) mod votes;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::db::tasks::TaskOutput;
use crate::error::ApiError;
use crate::tasks::{TaskError, TaskStatus};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `list` and `search` before `{id}` so neither is taken for an id.
    cfg.service(read::list_tasks)
        .service(search::search_tasks)
        .service(create::create_task)
        .service(read::get_task)
        .service(attempts::list_attempts)
        .service(votes::list_votes)
        .service(result::get_result)
        .service(result::cancel_task)
        .service(retry::retry_task);
}

/// Longest `Prefer: wait` / `?wait=` honoured, seconds.
pub const MAX_WAIT_S: u64 = 60;

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("TASK_NOT_FOUND", format!("no task with id {raw:?}"))
}

/// The function's response replayed byte for byte, or a problem saying why there is none.
pub(crate) fn replay(task_id: &str, output: TaskOutput) -> HttpResponse {
    if let (Some(status), Some(body)) = (output.response_status, output.response_body) {
        let status = actix_web::http::StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        response.insert_header(("X-Canopy-Task-Id", task_id.to_owned()));
        response.insert_header(("X-Canopy-Task-Status", output.status.as_str()));
        // The body is whatever the function (or a worker) wrote: never let a browser run it
        // with the API's origin.
        response.insert_header(("X-Content-Type-Options", "nosniff"));
        response.insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"));
        if let Some(content_type) = output.response_content_type {
            response.insert_header((header::CONTENT_TYPE, content_type));
        }
        if let Some(error) = output.error_message {
            let one_line: String = error
                .chars()
                .filter(|c| !c.is_control())
                .take(1000)
                .collect();
            response.insert_header(("X-Canopy-Error", one_line));
        }
        return response.body(body);
    }
    let message = output.error_message.unwrap_or_default();
    let error = match output.status {
        TaskStatus::TimedOut => ApiError::gateway_timeout(
            "TASK_TIMED_OUT",
            format!("the function did not answer in time: {message}"),
        ),
        TaskStatus::Cancelled => ApiError::conflict("TASK_CANCELLED", "the task was cancelled"),
        TaskStatus::Failed => ApiError::bad_gateway(
            "TASK_FAILED",
            format!(
                "the task failed ({}): {message}",
                output.error_kind.unwrap_or_default()
            ),
        ),
        _ => return pending(task_id, output.status),
    };
    actix_web::ResponseError::error_response(&error)
}

/// 202 while the task is not done.
fn pending(task_id: &str, status: TaskStatus) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::RETRY_AFTER, "1"))
        .insert_header((header::LOCATION, format!("/v1/task/{task_id}/result")))
        .json(serde_json::json!({ "id": task_id, "status": status.as_str() }))
}

/// The problem a task operation's failure is for its caller.
impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        match error {
            TaskError::FunctionNotFound(id) => ApiError::not_found(
                "FUNCTION_NOT_FOUND",
                format!("no function with id {:?}", canopy_shared::format_id(id)),
            ),
            TaskError::FunctionPaused => ApiError::conflict(
                "FUNCTION_PAUSED",
                "the function is paused; unpause it with togglePause",
            ),
            TaskError::FunctionChanged => ApiError::conflict(
                "FUNCTION_CHANGED",
                "the function changed while the task was submitted; send it again",
            ),
            TaskError::NoRunner => ApiError::conflict(
                "NO_RUNNER",
                "the function has no successful build yet; upload its code with POST /v1/build/{functionId}",
            ),
            TaskError::BuildFailed(build) => {
                let build = canopy_shared::format_id(build);
                ApiError::conflict(
                    "BUILD_FAILED",
                    format!("the function's current build {build} failed to compile: see GET /v1/build/{build}, fix the code and upload it again"),
                )
            }
            TaskError::IdempotencyKeyReused => ApiError::unprocessable(
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used for a different request in the last 24 hours",
            ),
            TaskError::TaskNotFound(id) => not_found(&canopy_shared::format_id(id)),
            TaskError::TaskFinished(status) => ApiError::conflict(
                "TASK_FINISHED",
                format!("the task already ended ({status})"),
            ),
            TaskError::ShuttingDown => ApiError::unavailable("the dispatcher is shutting down"),
            TaskError::QuotaExceeded(exceeded) => exceeded.into(),
            TaskError::Database(error) => match std::sync::Arc::try_unwrap(error) {
                Ok(error) => ApiError::from(error),
                // One failed group commit answers every task of its batch.
                Err(shared) => match shared.as_ref() {
                    sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                        ApiError::unavailable("the database is unavailable; try again shortly")
                    }
                    other => ApiError::from(anyhow::anyhow!("while writing tasks: {other}")),
                },
            },
        }
    }
}
