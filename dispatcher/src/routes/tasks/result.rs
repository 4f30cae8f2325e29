//! `GET /v1/task/{id}/result` (replay, long-poll) and `POST /v1/task/{id}/cancel`.

use std::time::Duration;

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{not_found, replay, MAX_WAIT_S};
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::routes::path_id;
use crate::state::AppState;
use crate::tasks;

/// Query of the result endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResultQuery {
    /// Seconds to wait for the task to finish (≤ 60) before answering 202.
    pub wait: Option<u64>,
}

/// The function's response replayed: status, content type and body byte for byte. 202 with
/// `Retry-After` while the task is not done; 504 `TASK_TIMED_OUT`, 502 `TASK_FAILED` or 409
/// `TASK_CANCELLED` when it ended without a response.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("id" = String, Path), ResultQuery),
    responses((status = 200, description = "the function's response"), (status = 202, description = "not done yet"),
              (status = 404, description = "TASK_NOT_FOUND")))]
#[get("/task/{id}/result")]
pub async fn get_result(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ResultQuery>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    let task_id = canopy_shared::format_id(id);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_S));
    let output = tasks::wait(&state, user.account_id, id, wait, false)
        .await?
        .ok_or_else(|| not_found(&path))?;
    Ok(replay(&task_id, output))
}

/// Cancels a task that has not finished. A running attempt's container is killed by its worker.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{id, status: \"cancelled\"}`"), (status = 404, description = "TASK_NOT_FOUND"),
              (status = 409, description = "TASK_FINISHED")))]
#[post("/task/{id}/cancel")]
pub async fn cancel_task(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    tasks::cancel(&state, user.account_id, id).await?;
    let task_id = canopy_shared::format_id(id);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": task_id, "status": "cancelled" })))
}
