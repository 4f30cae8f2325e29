//! `GET /v1/task/{id}/result` (replay, long-poll) and `POST /v1/task/{id}/cancel`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{get, post, web, HttpResponse};
use canopy_shared::protocol::DispatcherMessage;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{is_final, not_found, pending, replay, MAX_WAIT_S};
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
    state: web::Data<AppState>,
    dispatch: web::Data<Arc<Dispatch>>,
    path: web::Path<String>,
    query: web::Query<ResultQuery>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    let task_id = canopy_shared::format_id(id);
    let wait = query.wait.unwrap_or(0).min(MAX_WAIT_S);
    let finished = (wait > 0).then(|| dispatch.completions.subscribe(id));
    let mut conn = state.pool.acquire().await?;
    let output = db::tasks::output(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    if is_final(&output.status) {
        return Ok(replay(&task_id, output));
    }
    let Some(finished) = finished else {
        return Ok(pending(&task_id, &output.status));
    };
    // Don't hold a pooled connection while waiting.
    drop(conn);
    let _ = tokio::time::timeout(Duration::from_secs(wait), finished).await;
    dispatch.completions.forget_abandoned(id);
    let mut conn = state.pool.acquire().await?;
    let output = db::tasks::output(&mut conn, user.account_id, id)
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
    dispatch: web::Data<Arc<Dispatch>>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    let mut conn = state.pool.acquire().await?;
    let Some((node, attempt)) = db::tasks::cancel(&mut conn, user.account_id, id).await? else {
        return match db::tasks::find(&mut conn, user.account_id, id).await? {
            Some(row) => Err(ApiError::conflict(
                "TASK_FINISHED",
                format!("the task already ended ({})", row.status),
            )),
            None => Err(not_found(&path)),
        };
    };
    let task_id = canopy_shared::format_id(id);
    if let Some(session) = node.and_then(|node| dispatch.registry.get(node)) {
        session.release(id);
        session.send(DispatcherMessage::Cancel {
            task_id: task_id.clone(),
            attempt: u32::try_from(attempt).unwrap_or(1),
        });
    }
    dispatch.completions.complete(id);
    tracing::info!(task.id = %task_id, "task cancelled");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": task_id, "status": "cancelled" })))
}
