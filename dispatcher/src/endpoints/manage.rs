//! `/v1/endpoint/*`: publish a function, change, read, list and delete its public endpoints.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::body::{check, EndpointBody, EndpointChange, TimeLimit};
use super::view::{endpoint_view, metrics_view, EndpointMetricsView, EndpointView};
use crate::db;
use crate::db::endpoints::{EndpointRow, NewEndpoint};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{AuthUser, OptionalJson};
use crate::routes::pages::{page_body, page_request};
use crate::routes::{path_id, query_id};
use crate::state::AppState;

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("ENDPOINT_NOT_FOUND", format!("no endpoint with id {raw:?}"))
}

/// A new endpoint id: random, so a public URL cannot be guessed from another.
fn new_endpoint_id() -> Uuid {
    let bytes: [u8; 16] = crate::auth::secret::random_bytes(16)
        .try_into()
        .unwrap_or([0; 16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Checks what only the database can: that tags are the caller's and the timezone exists.
async fn check_references(
    conn: &mut PgConnection,
    account_id: Uuid,
    change: &EndpointChange,
) -> ApiResult<Option<Vec<Uuid>>> {
    if let Some(Some(TimeLimit { timezone, .. })) = &change.time_limit {
        if !db::endpoints::timezone_exists(conn, timezone).await? {
            return Err(ApiError::invalid_field(
                "timeLimit.timezone",
                "is not a known IANA timezone",
            ));
        }
    }
    match &change.tags {
        Some(raw) => owned_tags(conn, account_id, raw).await.map(Some),
        None => Ok(None),
    }
}

/// Parses tag ids (already checked to be ids) and checks that each is one of the caller's tags
/// (400 naming `tag[i]` otherwise). Shared by endpoints and triggers.
pub(crate) async fn owned_tags(
    conn: &mut PgConnection,
    account_id: Uuid,
    raw: &[String],
) -> ApiResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = raw
        .iter()
        .filter_map(|t| canopy_shared::parse_id(t))
        .collect();
    let owned = db::tags::owned_among(conn, account_id, &ids).await?;
    let unknown: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !owned.contains(id))
        .map(|(index, _)| FieldError::new(format!("tag[{index}]"), "is not one of your tags"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::validation(unknown));
    }
    Ok(ids)
}

/// Publishes a function at a new public URL `/gc/{id}` → 201 `{id}`.
#[utoipa::path(post, path = "/v1/endpoint/{functionId}", tag = "endpoint", security(("bearer" = [])),
    params(("functionId" = String, Path)), request_body = EndpointBody,
    responses((status = 201, description = "`{\"id\"}`"), (status = 400, body = crate::error::Problem),
              (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[post("/endpoint/{functionId}")]
pub async fn create_endpoint(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: OptionalJson<EndpointBody>,
) -> ApiResult<HttpResponse> {
    let function_id = path_id(&path, "FUNCTION_NOT_FOUND", "function")?;
    let change = check(body.0).map_err(ApiError::validation)?;
    let mut tx = state.pool.begin().await?;
    let tags = check_references(&mut tx, user.account_id, &change).await?;
    let id = new_endpoint_id();
    let time_limit = change.time_limit.clone().flatten();
    let new = NewEndpoint {
        id,
        account_id: user.account_id,
        function_id,
        description: change.description.as_deref().unwrap_or(""),
        daily_limit: change.daily_limit.unwrap_or(-1),
        origins: change.origins.as_deref().unwrap_or(&[]),
        ips: change.ips.as_deref().unwrap_or(&[]),
        time_limit: time_limit
            .as_ref()
            .map(|t| (t.from.as_str(), t.to.as_str(), t.timezone.as_str())),
    };
    if !db::endpoints::insert(&mut tx, &new).await? {
        return Err(ApiError::not_found(
            "FUNCTION_NOT_FOUND",
            format!("no function with id {:?}", path.as_str()),
        ));
    }
    if let Some(tags) = tags {
        db::endpoints::set_tags(&mut tx, id, &tags).await?;
    }
    tx.commit().await?;
    let shown = canopy_shared::format_id(id);
    Ok(crate::routes::created(format!("/v1/endpoint/{shown}"), id))
}

/// Changes the given fields; an omitted field keeps its value, `timeLimit: null` removes it.
#[utoipa::path(patch, path = "/v1/endpoint/{id}", tag = "endpoint", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = EndpointBody,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, description = "ENDPOINT_NOT_FOUND")))]
#[patch("/endpoint/{id}")]
pub async fn edit_endpoint(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: OptionalJson<EndpointBody>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "ENDPOINT_NOT_FOUND", "endpoint")?;
    let change = check(body.0).map_err(ApiError::validation)?;
    let mut tx = state.pool.begin().await?;
    let tags = check_references(&mut tx, user.account_id, &change).await?;
    let mut row = db::endpoints::find(&mut tx, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    merge(&mut row, change);
    db::endpoints::update(&mut tx, user.account_id, &row).await?;
    if let Some(tags) = tags {
        db::endpoints::set_tags(&mut tx, id, &tags).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

fn merge(row: &mut EndpointRow, change: EndpointChange) {
    if let Some(description) = change.description {
        row.description = description;
    }
    if let Some(limit) = change.daily_limit {
        row.daily_limit = limit;
    }
    if let Some(origins) = change.origins {
        row.origins = origins;
    }
    if let Some(ips) = change.ips {
        row.ips = ips;
    }
    if let Some(limit) = change.time_limit {
        let (from, to, zone) = match limit {
            Some(TimeLimit { from, to, timezone }) => (Some(from), Some(to), Some(timezone)),
            None => (None, None, None),
        };
        (row.time_from, row.time_to, row.time_zone) = (from, to, zone);
    }
}

/// One endpoint: `{id, functionId, description, tags, dailyLimit, origin, ip, timeLimit, url, createdAt}`.
#[utoipa::path(get, path = "/v1/endpoint/{id}", tag = "endpoint", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, description = "ENDPOINT_NOT_FOUND")))]
#[get("/endpoint/{id}")]
pub async fn get_endpoint(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "ENDPOINT_NOT_FOUND", "endpoint")?;
    let mut conn = state.pool.acquire().await?;
    let row = db::endpoints::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let tags = db::endpoints::tags_of(&mut conn, &[id]).await?;
    let tags = tags.into_iter().map(|(_, tag)| tag).collect();
    Ok(HttpResponse::Ok().json(endpoint_view(row, tags)))
}

/// Deletes an endpoint: its URL answers 404 at once; tasks it started are kept.
#[utoipa::path(delete, path = "/v1/endpoint/{id}", tag = "endpoint", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "ENDPOINT_NOT_FOUND")))]
#[delete("/endpoint/{id}")]
pub async fn delete_endpoint(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "ENDPOINT_NOT_FOUND", "endpoint")?;
    let mut conn = state.pool.acquire().await?;
    if !db::endpoints::delete(&mut conn, user.account_id, id).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Paging of the list, in the query or (as GreenCloud documents it) in a JSON body on GET.
#[derive(Debug, Default, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListParams {
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Page size, 1–999 (default 10).
    pub limit: Option<i64>,
    pub function_id: Option<String>,
}

/// The caller's endpoints, oldest first: `{pageCount, pageSize, totalCount, results}`. The query
/// string wins over a JSON body naming the same field.
#[utoipa::path(get, path = "/v1/endpoint/list", tag = "endpoint", security(("bearer" = [])),
    params(ListParams), responses((status = 200), (status = 400, body = crate::error::Problem)))]
#[get("/endpoint/list")]
pub async fn list_endpoints(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ListParams>,
    body: OptionalJson<ListParams>,
) -> ApiResult<HttpResponse> {
    let (query, body) = (query.into_inner(), body.0);
    let request = page_request(query.page.or(body.page), query.limit.or(body.limit))?;
    let function_id = query_id(
        query.function_id.as_deref().or(body.function_id.as_deref()),
        "functionId",
    )?;
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = db::endpoints::page(
        &mut conn,
        user.account_id,
        function_id,
        request.offset,
        request.limit,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut tags: std::collections::HashMap<Uuid, Vec<_>> = std::collections::HashMap::new();
    for (endpoint, tag) in db::endpoints::tags_of(&mut conn, &ids).await? {
        tags.entry(endpoint).or_default().push(tag);
    }
    let results: Vec<EndpointView> = rows
        .into_iter()
        .map(|row| {
            let mine = tags.remove(&row.id).unwrap_or_default();
            endpoint_view(row, mine)
        })
        .collect();
    Ok(HttpResponse::Ok().json(page_body(request, total, results)))
}

/// Task counters of one endpoint.
#[utoipa::path(get, path = "/v1/endpoint/{id}/metrics", tag = "endpoint", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointMetricsView), (status = 404, description = "ENDPOINT_NOT_FOUND")))]
#[get("/endpoint/{id}/metrics")]
pub async fn endpoint_metrics(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "ENDPOINT_NOT_FOUND", "endpoint")?;
    let mut conn = state.pool.acquire().await?;
    let row = db::endpoints::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let metrics = db::endpoints::metrics(&mut conn, id).await?;
    Ok(HttpResponse::Ok().json(metrics_view(metrics, row.daily_limit)))
}
