//! `GET /v1/function/{id}`, `GET /v1/function/list[?tag=]`, `GET /v1/function/{id}/capabilities`.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::view::{capabilities, detail, summaries, FunctionDetail, FunctionSummary, Metrics};
use super::{function_id, not_found};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::query_id;
use crate::state::AppState;

/// Page size when `limit` is not given, and the largest one allowed.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// Query of the function list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only functions carrying this tag.
    pub tag: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<u32>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One function of the caller.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = FunctionDetail), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[get("/function/{id}")]
pub async fn get_function(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    let row = db::functions::find_live(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let tags = db::functions::tags_of(&mut conn, &[id])
        .await?
        .into_iter()
        .map(|(_, tag)| tag)
        .collect();
    let [todays_tasks, pending_tasks, week_tasks, completed_tasks] =
        db::tasks::function_metrics(&mut conn, id).await?;
    let metrics = Metrics {
        todays_tasks,
        pending_tasks,
        week_tasks,
        completed_tasks,
    };
    let image = db::images::image_of(&mut conn, id).await?;
    Ok(HttpResponse::Ok().json(detail(row, tags, metrics, image)))
}

/// The caller's functions as a bare array, oldest first. Paged by `limit` and `cursor`; the
/// next page's cursor is in `X-Next-Cursor` and a `Link: rel="next"` header.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = [FunctionSummary]), (status = 400, body = crate::error::Problem)))]
#[get("/function/list")]
pub async fn list_functions(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let tag = query_id(query.tag.as_deref(), "tag")?;
    let cursor = query_id(query.cursor.as_deref(), "cursor")?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let mut rows = db::functions::list_live(
        &mut conn,
        user.account_id,
        tag,
        cursor,
        i64::from(limit) + 1,
    )
    .await?;
    let next = (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|row| canopy_shared::format_id(row.id))
    });
    let ids: Vec<_> = rows.iter().map(|row| row.id).collect();
    let tags = db::functions::tags_of(&mut conn, &ids).await?;
    let mut response = HttpResponse::Ok();
    if let Some(Some(next)) = next {
        let tag_param = query
            .tag
            .map(|tag| format!("&tag={tag}"))
            .unwrap_or_default();
        response.insert_header(("X-Next-Cursor", next.clone()));
        response.insert_header((
            header::LINK,
            format!("</v1/function/list?limit={limit}&cursor={next}{tag_param}>; rel=\"next\""),
        ));
    }
    Ok(response.json(summaries(rows, tags)))
}

/// A function's capabilities.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = canopy_shared::Capabilities), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[get("/function/{id}/capabilities")]
pub async fn get_capabilities(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    let row = db::functions::find_live(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    Ok(HttpResponse::Ok().json(capabilities(&row)))
}
