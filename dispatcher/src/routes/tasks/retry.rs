//! `POST /v1/task/{id}/retry`: runs an ended task's request again as a new task.

use actix_web::{post, web, HttpResponse};

use super::not_found;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::{created, path_id};
use crate::state::AppState;
use crate::tasks::{self, Request, Submission};

/// Sends an ended task's request (method, query, headers, body) to its function again, as a new
/// task with the function's current code and capabilities. The old task is left as it was.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, description = "`{\"id\"}` of the new task"),
              (status = 404, description = "TASK_NOT_FOUND or FUNCTION_NOT_FOUND (deleted since)"),
              (status = 409, description = "TASK_NOT_FINISHED, FUNCTION_PAUSED or NO_RUNNER")))]
#[post("/task/{id}/retry")]
pub async fn retry_task(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    // A caller just handed the result (before it was written) may retry it at once.
    state.completions.written(id).await;
    let mut conn = state.pool.acquire().await?;
    let original = db::task_retry::original_request(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    drop(conn);
    if !original.status.is_final() {
        return Err(ApiError::conflict(
            "TASK_NOT_FINISHED",
            format!(
                "the task is still {}; cancel it first or wait for it",
                original.status
            ),
        ));
    }
    let headers: Vec<(String, String)> =
        serde_json::from_value(original.request_headers).unwrap_or_default();
    let submitted = tasks::submit(
        &state,
        Submission {
            account_id: user.account_id,
            function_id: original.function_id,
            request: Request {
                method: original.request_method,
                query: original.request_query,
                headers,
                content_type: original.request_content_type,
                body: original.request_body,
            },
            idempotency: None,
            priority: 0,
            deadline: None,
            defer_until: None,
        },
    )
    .await?;
    let new_id = canopy_shared::format_id(submitted.id);
    tracing::info!(task.id = %new_id, retry_of = %canopy_shared::format_id(id), "task retried");
    Ok(created(format!("/v1/task/{new_id}"), submitted.id))
}
