//! `GET /v1/task/{id}` and `GET /v1/task/list`.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use canopy_shared::Capabilities;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::not_found;
use crate::db;
use crate::db::tasks::TaskRow;
use crate::domain::function::capabilities_from_columns;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::{path_id, query_id, unix_string};
use crate::state::AppState;
use crate::tasks::{self, TaskStatus};

/// A task: the contract's fields plus its lifecycle.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub id: String,
    pub function_id: String,
    /// `queued`, `assigned`, `running`, `succeeded`, `failed`, `timed_out` or `cancelled`.
    pub status: String,
    /// The function's HTTP status, 0 until it answered.
    pub http_status: i32,
    pub attempt: i32,
    /// Unix seconds as strings (the contract's format); `assigned`/`finished` are "" until then.
    pub issued: String,
    pub assigned: String,
    pub finished: String,
    pub progress: i16,
    /// The node running (or that ran) it.
    pub node: Option<String>,
    pub timeout: i32,
    pub capabilities: Capabilities,
    pub error: Option<TaskError>,
    pub timings: TaskTimings,
    /// Why a queued task is not running yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
}

/// Why a task failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskError {
    /// `handler_error`, `timeout`, `lost`, `worker_error`, `execution_failed`, `oom_killed`,
    /// `function_crashed`, `response_too_large`, `deadline_exceeded` or `cancelled`.
    pub kind: String,
    pub message: String,
}

/// Where the time went, ms.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskTimings {
    pub queue_ms: Option<i64>,
    pub init_ms: Option<i32>,
    pub exec_ms: Option<i32>,
    pub total_ms: Option<i64>,
    /// Whether a warm container served it.
    pub warm: Option<bool>,
}

fn capabilities_of(row: &TaskRow) -> Capabilities {
    capabilities_from_columns(
        row.timeout_s,
        row.cpu_count,
        row.mem_size_mb,
        row.network_latency_ms,
        row.privileged,
        row.volunteers,
    )
}

fn view(row: TaskRow, pending_reason: Option<String>) -> TaskView {
    let optional_unix =
        |at: Option<chrono::DateTime<chrono::Utc>>| at.map(unix_string).unwrap_or_default();
    let error = match (row.error_kind.clone(), row.error_message.clone()) {
        (Some(kind), message) if row.status != TaskStatus::Queued => Some(TaskError {
            kind,
            message: message.unwrap_or_default(),
        }),
        _ => None,
    };
    TaskView {
        id: canopy_shared::format_id(row.id),
        function_id: canopy_shared::format_id(row.function_id),
        http_status: row.response_status.unwrap_or(0),
        attempt: row.attempt,
        issued: unix_string(row.issued_at),
        assigned: optional_unix(row.assigned_at),
        finished: optional_unix(row.finished_at),
        progress: row.progress,
        node: row.node_id.map(canopy_shared::format_id),
        timeout: row.timeout_s,
        capabilities: capabilities_of(&row),
        error,
        timings: TaskTimings {
            queue_ms: row
                .assigned_at
                .map(|at| (at - row.issued_at).num_milliseconds()),
            init_ms: row.init_ms,
            exec_ms: row.exec_ms,
            total_ms: row
                .finished_at
                .map(|at| (at - row.issued_at).num_milliseconds()),
            warm: row.warm,
        },
        pending_reason,
        status: row.status.as_str().to_owned(),
    }
}

/// One task of the caller.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TaskView), (status = 404, description = "TASK_NOT_FOUND")))]
#[get("/task/{id}")]
pub async fn get_task(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    // Never older than what a `Prefer: wait` caller on this replica was just told.
    state.completions.written(id).await;
    let mut conn = state.pool.acquire().await?;
    let row = db::tasks::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    drop(conn);
    let reason = if row.status == TaskStatus::Queued {
        Some(tasks::explain(&state, user.account_id, &row).await?)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(view(row, reason)))
}

/// Query of the task list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskListQuery {
    /// Page size, 1–1000 (default 100).
    pub limit: Option<u32>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this function's tasks.
    pub function_id: Option<String>,
}

/// An entry of the task list: the contract's `{id, issued, progress, status}` (status = the
/// function's HTTP code, 0 until finished) plus `state`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskSummary {
    pub id: String,
    pub issued: String,
    pub progress: i16,
    pub status: i32,
    pub state: String,
}

/// The caller's tasks as a bare array, oldest first; next page in `X-Next-Cursor`.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(TaskListQuery), responses((status = 200, body = [TaskSummary])))]
#[get("/task/list")]
pub async fn list_tasks(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<TaskListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let cursor = query_id(query.cursor.as_deref(), "cursor")?;
    let function_id = query_id(query.function_id.as_deref(), "functionId")?;
    let mut conn = state.pool.acquire().await?;
    let mut rows = db::tasks::list(
        &mut conn,
        user.account_id,
        function_id,
        cursor,
        i64::from(limit) + 1,
    )
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut response = HttpResponse::Ok();
    if more {
        if let Some(last) = rows.last() {
            let next = canopy_shared::format_id(last.id);
            response.insert_header(("X-Next-Cursor", next.clone()));
            response.insert_header((
                header::LINK,
                format!("</v1/task/list?limit={limit}&cursor={next}>; rel=\"next\""),
            ));
        }
    }
    let list: Vec<TaskSummary> = rows
        .into_iter()
        .map(|row| TaskSummary {
            id: canopy_shared::format_id(row.id),
            issued: unix_string(row.issued_at),
            progress: row.progress,
            status: row.response_status.unwrap_or(0),
            state: row.status.as_str().to_owned(),
        })
        .collect();
    Ok(response.json(list))
}
