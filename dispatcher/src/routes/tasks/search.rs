//! `GET /v1/task/search`: the caller's tasks, newest first, filtered by function, state, node and
//! issue time, paged with `{results, next}` (the dashboard's task list).

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::stats::first_id_at;
use crate::db::task_search::{FoundTask, TaskFilter};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::query_id;
use crate::state::AppState;
use crate::tasks::TaskStatus;

/// Query of the task search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchQuery {
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    pub function_id: Option<String>,
    /// One state or several, comma-separated: `queued,running`.
    pub status: Option<String>,
    /// Only tasks run (or running) on this node.
    pub node: Option<String>,
    /// Issued at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Issued before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// A found task.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskListItem {
    pub id: String,
    pub function_id: String,
    pub function_name: String,
    pub status: String,
    pub attempt: i32,
    pub node: Option<String>,
    /// The function's HTTP status, once it answered.
    pub http_status: Option<i32>,
    pub error_kind: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub queue_ms: Option<i64>,
    pub exec_ms: Option<i32>,
}

/// A page of found tasks; `next` is the cursor of the following page, null on the last.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub results: Vec<TaskListItem>,
    pub next: Option<String>,
}

fn item(row: FoundTask) -> TaskListItem {
    TaskListItem {
        id: canopy_shared::format_id(row.id),
        function_id: canopy_shared::format_id(row.function_id),
        function_name: row.function_name,
        status: row.status.as_str().to_owned(),
        attempt: row.attempt,
        node: row.node_id.map(canopy_shared::format_id),
        http_status: row.response_status,
        error_kind: row.error_kind,
        queue_ms: row
            .assigned_at
            .map(|at| (at - row.issued_at).num_milliseconds()),
        issued_at: row.issued_at,
        finished_at: row.finished_at,
        exec_ms: row.exec_ms,
    }
}

fn statuses(raw: Option<&str>) -> ApiResult<Option<Vec<String>>> {
    let Some(raw) = raw.filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    raw.split(',')
        .map(|name| {
            TaskStatus::parse(name.trim())
                .map(|status| status.as_str().to_owned())
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "status",
                        format!("{name:?} is not a task state (queued, assigned, running, succeeded, failed, timed_out, cancelled)"),
                    )
                })
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

fn filter(query: &SearchQuery) -> ApiResult<TaskFilter> {
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from >= to {
            return Err(ApiError::invalid_field("to", "must be after `from`"));
        }
    }
    Ok(TaskFilter {
        function_id: query_id(query.function_id.as_deref(), "functionId")?,
        statuses: statuses(query.status.as_deref())?,
        node_id: query_id(query.node.as_deref(), "node")?,
        issued_from: query.from,
        issued_before: query.to,
        before_id: query_id(query.cursor.as_deref(), "cursor")?,
        // An id is made just before its task is written: a minute's margin is plenty.
        first_id: query
            .from
            .map(|from| first_id_at(from - TimeDelta::minutes(1))),
    })
}

/// The caller's tasks, newest first, with filters; `{results, next}`.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = TaskPage), (status = 400, body = crate::error::Problem),
              (status = 401, description = "NEEDS_LOGIN")))]
#[get("/task/search")]
pub async fn search_tasks(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 200",
        ));
    }
    let filter = filter(&query)?;
    let mut conn = state.pool.acquire().await?;
    let mut rows =
        db::task_search::search(&mut conn, user.account_id, &filter, i64::from(limit) + 1).await?;
    let next = (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|row| canopy_shared::format_id(row.id))
    });
    Ok(HttpResponse::Ok().json(TaskPage {
        results: rows.into_iter().map(item).collect(),
        next: next.flatten(),
    }))
}
