//! `GET /v1/task/{id}/result` (replay, long-poll) and `POST /v1/task/{id}/cancel`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{not_found, replay, MAX_WAIT_S};
use crate::db;
use crate::dispatch::Dispatch;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::path_id;
use crate::state::AppState;

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
    dispatch: web::Data<Arc<Dispatch>>,
    path: web::Path<String>,
    query: web::Query<ResultQuery>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    let task_id = canopy_shared::format_id(id);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_S));
    let output = dispatch
        .wait_for_end(user.account_id, id, wait)
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
    let mut conn = state.pool.acquire().await?;
    // The database tells the replica holding the worker's socket (LISTEN/NOTIFY), which sends
    // `cancel` to the worker and wakes waiters.
    if !db::tasks::cancel(&mut conn, user.account_id, id).await? {
        return match db::tasks::find(&mut conn, user.account_id, id).await? {
            Some(row) => Err(ApiError::conflict(
                "TASK_FINISHED",
                format!("the task already ended ({})", row.status),
            )),
            None => Err(not_found(&path)),
        };
    }
    let task_id = canopy_shared::format_id(id);
    tracing::info!(task.id = %task_id, "task cancelled");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": task_id, "status": "cancelled" })))
}
