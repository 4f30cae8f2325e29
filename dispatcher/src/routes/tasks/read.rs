//! `GET /v1/task/{id}` and `GET /v1/task/list`.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use canopy_shared::api::task::{TaskCarbon, TaskError, TaskSummary, TaskTimings, TaskView};
use canopy_shared::Capabilities;
use serde::Deserialize;
use utoipa::IntoParams;

use super::not_found;
use crate::db;
use crate::db::tasks::TaskRow;
use crate::domain::function::capabilities_from_columns;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::{path_id, query_id, unix_string};
use crate::state::AppState;
use crate::tasks::{self, TaskStatus};

fn carbon_view(row: db::carbon::TaskCarbonRow) -> Option<TaskCarbon> {
    let rfc3339 =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let deferred = row.defer_until.is_some();
    (deferred || row.carbon_intensity.is_some()).then(|| TaskCarbon {
        defer_until: row.defer_until.map(rfc3339),
        held_until: row.not_before.filter(|_| deferred).map(rfc3339),
        intensity: row.carbon_intensity,
        grams_co2e: None,
    })
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
        cpu_seconds: row.cpu_seconds,
        energy_wh: row.energy_wh,
        pending_reason,
        carbon: None,
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
    let carbon = db::carbon::find_task_carbon(&mut conn, user.account_id, id).await?;
    drop(conn);
    let reason = if row.status == TaskStatus::Queued {
        Some(tasks::explain(&state, user.account_id, &row, carbon.as_ref()).await?)
    } else {
        None
    };
    let mut view = view(row, reason);
    view.carbon = carbon.and_then(carbon_view);
    if let (Some(carbon), Some(wh)) = (view.carbon.as_mut(), view.energy_wh) {
        carbon.grams_co2e = carbon.intensity.map(|g| wh * f64::from(g) / 1000.0);
    }
    Ok(HttpResponse::Ok().json(view))
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
    /// A state (`succeeded`, …) or the function's HTTP status (`200`).
    pub status: Option<String>,
    /// Issued at or after: Unix seconds, RFC 3339 or `YYYY-MM-DD`.
    pub since: Option<String>,
    /// Issued before: same forms.
    pub until: Option<String>,
}

/// The filters of the task list (`crate::history` parses them).
fn task_filter(query: &TaskListQuery) -> ApiResult<db::history::TaskFilter> {
    let (state, http_status) = match query.status.as_deref() {
        Some(status) => crate::history::parse_status(status)?,
        None => (None, None),
    };
    let bound = |field: &str, text: &Option<String>| {
        text.as_deref()
            .map(|text| crate::history::parse_instant(field, text))
            .transpose()
    };
    Ok(db::history::TaskFilter {
        function_id: query_id(query.function_id.as_deref(), "functionId")?,
        state,
        http_status,
        since: bound("since", &query.since)?,
        until: bound("until", &query.until)?,
        schedule_id: None,
    })
}

/// Percent-encodes a filter value for the `Link` header.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The caller's tasks as a bare array, oldest first; next page in `X-Next-Cursor`. Filters:
/// `functionId`, `status` (a state or an HTTP status), `since`, `until`.
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
    let filter = task_filter(&query)?;
    let mut conn = state.pool.acquire().await?;
    let mut rows = db::history::list(
        &mut conn,
        user.account_id,
        &filter,
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
            let filters: String = [
                ("functionId", &query.function_id),
                ("status", &query.status),
                ("since", &query.since),
                ("until", &query.until),
            ]
            .iter()
            .filter_map(|(name, value)| value.as_deref().map(|v| format!("&{name}={}", encode(v))))
            .collect();
            response.insert_header((
                header::LINK,
                format!("</v1/task/list?limit={limit}&cursor={next}{filters}>; rel=\"next\""),
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
