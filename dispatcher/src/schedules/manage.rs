//! `/v1/scheduled/*`: create, change, read, list, delete; set the payload; try a run now.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::Utc;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

pub use canopy_shared::api::schedule::{
    CreateSchedule, InlinePayload, ScheduleView, UpdateSchedule,
};

use super::cron::Cron;
use super::ticks::{next_tick, submission_with};
use crate::db;
use crate::db::schedules::ScheduleRow;
use crate::domain::rules;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{read_body, AuthUser, OptionalJson, ValidJson};
use crate::routes::pages::{page_body, page_request};
use crate::routes::{path_id, query_id};
use crate::state::AppState;
use crate::tasks;

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("SCHEDULE_NOT_FOUND", format!("no schedule with id {raw:?}"))
}

fn view(row: ScheduleRow) -> ScheduleView {
    ScheduleView {
        id: canopy_shared::format_id(row.id),
        function_id: canopy_shared::format_id(row.function_id),
        cron: row.cron,
        timezone: row.time_zone,
        description: row.description,
        active: row.active,
        inline_payload: InlinePayload {
            query: row.payload_query,
            body: base64::engine::general_purpose::STANDARD.encode(&row.payload_body),
            content_type: row.payload_content_type,
        },
        next_run_at: row.next_run_at,
        last_run_at: row.last_run_at,
        created_at: row.created_at,
    }
}

/// Checks cron, timezone and description; returns the parsed cron.
async fn check(
    conn: &mut PgConnection,
    cron: Option<&str>,
    timezone: Option<&str>,
    description: Option<&str>,
) -> ApiResult<Option<Cron>> {
    let mut errors = Vec::new();
    let parsed = cron.map(Cron::parse).transpose().unwrap_or_else(|message| {
        errors.push(FieldError::new("cron", message));
        None
    });
    if let Some(zone) = timezone {
        if zone.is_empty() || zone.len() > 64 || !db::endpoints::timezone_exists(conn, zone).await?
        {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA timezone such as Europe/Rome",
            ));
        }
    }
    if let Some(description) = description {
        if description.chars().count() > 256 || rules::printascii(description).is_err() {
            errors.push(FieldError::new(
                "description",
                "must be at most 256 printable ASCII characters",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(parsed)
}

/// Creates an active schedule → 201 `{id}`.
#[utoipa::path(post, path = "/v1/scheduled", tag = "schedule", security(("bearer" = [])), request_body = CreateSchedule,
    responses((status = 201, description = "`{\"id\"}`"), (status = 400, body = crate::error::Problem)))]
#[post("/scheduled")]
pub async fn create_schedule(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<CreateSchedule>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let mut conn = state.pool.acquire().await?;
    let function_id = canopy_shared::parse_id(&request.function_id)
        .ok_or_else(|| ApiError::invalid_field("functionId", "is not one of your functions"))?;
    let cron = check(
        &mut conn,
        Some(&request.cron),
        Some(&request.timezone),
        request.description.as_deref(),
    )
    .await?
    .ok_or_else(|| ApiError::invalid_field("cron", "is required"))?;
    let next_run_at = next_tick(&mut conn, &cron, &request.timezone, Utc::now()).await?;
    let id = canopy_shared::new_id();
    let row = ScheduleRow {
        id,
        function_id,
        cron: request.cron.trim().to_owned(),
        time_zone: request.timezone,
        description: request.description.unwrap_or_default(),
        active: true,
        payload_query: String::new(),
        payload_body: Vec::new(),
        payload_content_type: None,
        next_run_at,
        last_run_at: None,
        created_at: Utc::now(),
    };
    if !db::schedules::insert(&mut conn, id, user.account_id, function_id, &row).await? {
        return Err(ApiError::invalid_field(
            "functionId",
            "is not one of your functions",
        ));
    }
    let shown = canopy_shared::format_id(id);
    Ok(crate::routes::created(format!("/v1/scheduled/{shown}"), id))
}

/// Changes `active`, `cron`, `timezone`, `description`; the next tick is computed again.
#[utoipa::path(patch, path = "/v1/scheduled/{id}", tag = "schedule", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateSchedule,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, description = "SCHEDULE_NOT_FOUND")))]
#[patch("/scheduled/{id}")]
pub async fn edit_schedule(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<UpdateSchedule>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "SCHEDULE_NOT_FOUND", "schedule")?;
    let request = body.0;
    let mut conn = state.pool.acquire().await?;
    check(
        &mut conn,
        request.cron.as_deref(),
        request.timezone.as_deref(),
        request.description.as_deref(),
    )
    .await?;
    let mut row = db::schedules::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    if let Some(cron) = request.cron {
        row.cron = cron.trim().to_owned();
    }
    if let Some(zone) = request.timezone {
        row.time_zone = zone;
    }
    if let Some(description) = request.description {
        row.description = description;
    }
    if let Some(active) = request.active {
        row.active = active;
    }
    row.next_run_at = match (row.active, Cron::parse(&row.cron)) {
        (true, Ok(cron)) => next_tick(&mut conn, &cron, &row.time_zone, Utc::now()).await?,
        _ => None,
    };
    db::schedules::update(&mut conn, user.account_id, &row).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One schedule, with its payload (`inlinePayload`) and next tick.
#[utoipa::path(get, path = "/v1/scheduled/{id}", tag = "schedule", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 404, description = "SCHEDULE_NOT_FOUND")))]
#[get("/scheduled/{id}")]
pub async fn get_schedule(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "SCHEDULE_NOT_FOUND", "schedule")?;
    let mut conn = state.pool.acquire().await?;
    let row = db::schedules::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let runs = db::schedules::runs(&mut conn, id, 20).await?;
    let mut shown = serde_json::to_value(view(row)).map_err(anyhow::Error::new)?;
    shown["runs"] = runs
        .into_iter()
        .map(|(tick, task, error, missed)| {
            serde_json::json!({"tick": tick, "taskId": task.map(canopy_shared::format_id),
                               "error": error, "missed": missed})
        })
        .collect();
    Ok(HttpResponse::Ok().json(shown))
}

/// Deletes a schedule; its tasks are kept.
#[utoipa::path(delete, path = "/v1/scheduled/{id}", tag = "schedule", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "SCHEDULE_NOT_FOUND")))]
#[delete("/scheduled/{id}")]
pub async fn delete_schedule(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "SCHEDULE_NOT_FOUND", "schedule")?;
    let mut conn = state.pool.acquire().await?;
    if !db::schedules::delete(&mut conn, user.account_id, id).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Paging and filters of the list, in the query or in a JSON body on GET.
#[derive(Debug, Default, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleListParams {
    pub page: Option<i64>,
    /// 1–999 (default 10).
    pub limit: Option<i64>,
    pub function_id: Option<String>,
    pub timezone: Option<String>,
}

/// The caller's schedules, oldest first: `{pageCount, pageSize, totalCount, results}`.
#[utoipa::path(get, path = "/v1/scheduled/list", tag = "schedule", security(("bearer" = [])),
    params(ScheduleListParams), responses((status = 200), (status = 400, body = crate::error::Problem)))]
#[get("/scheduled/list")]
pub async fn list_schedules(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ScheduleListParams>,
    body: OptionalJson<ScheduleListParams>,
) -> ApiResult<HttpResponse> {
    let (query, body) = (query.into_inner(), body.0);
    let request = page_request(query.page.or(body.page), query.limit.or(body.limit))?;
    let function_id = query_id(
        query.function_id.as_deref().or(body.function_id.as_deref()),
        "functionId",
    )?;
    let zone = query.timezone.or(body.timezone);
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = db::schedules::page(
        &mut conn,
        user.account_id,
        function_id,
        zone.as_deref(),
        request.offset,
        request.limit,
    )
    .await?;
    let results: Vec<ScheduleView> = rows.into_iter().map(view).collect();
    Ok(HttpResponse::Ok().json(page_body(request, total, results)))
}

/// Sets the payload of every run: this request's query string, body and content type (a JSON
/// body, as GreenCloud sends, is stored as it is).
#[utoipa::path(put, path = "/v1/scheduled/{id}/payload", tag = "schedule", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Vec<u8>, description = "any body; its content type is kept", content_type = "*/*"),
    responses((status = 204), (status = 404, description = "SCHEDULE_NOT_FOUND"), (status = 413, description = "PAYLOAD_TOO_LARGE")))]
#[put("/scheduled/{id}/payload")]
pub async fn set_payload(
    req: HttpRequest,
    payload: web::Payload,
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "SCHEDULE_NOT_FOUND", "schedule")?;
    let body = read_body(&req, payload.into_inner(), state.dispatch.task_body_limit).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mut conn = state.pool.acquire().await?;
    let found = db::schedules::set_payload(
        &mut conn,
        user.account_id,
        id,
        req.query_string(),
        &body,
        content_type,
    )
    .await?;
    if !found {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Runs the schedule's function now with its payload → 201 `{id}` (the task).
#[utoipa::path(post, path = "/v1/scheduled/{id}/try", tag = "schedule", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 201, description = "`{\"id\"}` of the task"), (status = 404, description = "SCHEDULE_NOT_FOUND"),
              (status = 409, description = "FUNCTION_PAUSED or NO_RUNNER")))]
#[post("/scheduled/{id}/try")]
pub async fn try_schedule(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "SCHEDULE_NOT_FOUND", "schedule")?;
    let mut conn = state.pool.acquire().await?;
    let row = db::schedules::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    drop(conn);
    let submission = submission_with(
        user.account_id,
        row.function_id,
        id,
        &row.payload_query,
        &row.payload_body,
        row.payload_content_type,
        None,
    );
    let submitted = tasks::submit(&state, submission).await?;
    let mut conn = state.pool.acquire().await?;
    db::schedules::record_try(&mut conn, id, submitted.id).await?;
    let task = canopy_shared::format_id(submitted.id);
    Ok(crate::routes::created(
        format!("/v1/task/{task}"),
        submitted.id,
    ))
}
