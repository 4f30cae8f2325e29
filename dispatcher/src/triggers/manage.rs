//! `/v1/trigger/*`: create, read, list, change and delete triggers.

use std::collections::HashMap;

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::body::{check_common, CreateTrigger, UpdateTrigger};
use crate::db;
use crate::db::tags::TagRow;
use crate::db::triggers::{NewTrigger, TriggerRow};
use crate::endpoints::owned_tags;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{AuthUser, OptionalJson, ValidJson};
use crate::routes::pages::{page_body, page_request};
use crate::routes::{path_id, query_id};
use crate::state::AppState;
pub use canopy_shared::api::trigger::{TriggerTag, TriggerView};

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("TRIGGER_NOT_FOUND", format!("no trigger with id {raw:?}"))
}

fn view(row: TriggerRow, tags: Vec<TagRow>) -> TriggerView {
    TriggerView {
        id: canopy_shared::format_id(row.id),
        function_id: canopy_shared::format_id(row.function_id),
        next_id: canopy_shared::format_id(row.next_id),
        status: row.status,
        include_result: row.include_result,
        description: row.description,
        tags: tags
            .into_iter()
            .map(|tag| TriggerTag {
                id: canopy_shared::format_id(tag.id),
                name: tag.name,
                color: tag.color,
            })
            .collect(),
        created_at: row.created_at,
        fired: row.fired,
        refused: row.refused,
        pending: row.pending,
    }
}

/// Creates a trigger → 201 `{id}`. A trigger that would close a loop of triggers (including
/// onto its own function) is 409 `TRIGGER_CYCLE`.
#[utoipa::path(post, path = "/v1/trigger", tag = "trigger", security(("bearer" = [])), request_body = CreateTrigger,
    responses((status = 201, description = "`{\"id\"}`"), (status = 400, body = crate::error::Problem),
              (status = 409, description = "TRIGGER_CYCLE")))]
#[post("/trigger")]
pub async fn create_trigger(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<CreateTrigger>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let status = check_common(
        request.status,
        request.tag.as_deref(),
        request.description.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let mut errors = Vec::new();
    let function_id = canopy_shared::parse_id(&request.function_id);
    let next_id = canopy_shared::parse_id(&request.next_id);
    let mut tx = state.pool.begin().await?;
    let ids: Vec<Uuid> = function_id.into_iter().chain(next_id).collect();
    let live = db::triggers::live_functions(&mut tx, user.account_id, &ids).await?;
    for (field, id) in [("functionId", function_id), ("nextId", next_id)] {
        if id.is_none_or(|id| !live.contains(&id)) {
            errors.push(FieldError::new(field, "is not one of your functions"));
        }
    }
    let (Some(function_id), Some(next_id), true) = (function_id, next_id, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let tags = match &request.tag {
        Some(raw) => Some(owned_tags(&mut tx, user.account_id, raw).await?),
        None => None,
    };
    db::triggers::lock_account(&mut tx, user.account_id).await?;
    if function_id == next_id
        || db::triggers::reaches(&mut tx, user.account_id, next_id, function_id).await?
    {
        return Err(ApiError::conflict(
            "TRIGGER_CYCLE",
            "this trigger would close a loop: the next function already leads back to the source",
        ));
    }
    let id = canopy_shared::new_id();
    let new = NewTrigger {
        id,
        account_id: user.account_id,
        function_id,
        next_id,
        status: status.unwrap_or(0),
        include_result: request.include_result,
        description: request.description.as_deref().unwrap_or(""),
    };
    db::triggers::insert(&mut tx, &new).await?;
    if let Some(tags) = tags {
        db::triggers::set_tags(&mut tx, id, &tags).await?;
    }
    tx.commit().await?;
    let shown = canopy_shared::format_id(id);
    Ok(crate::routes::created(format!("/v1/trigger/{shown}"), id))
}

/// Changes `status`, `includeResult`, `tag` or `description`; the rest is kept.
#[utoipa::path(patch, path = "/v1/trigger/{id}", tag = "trigger", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateTrigger,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, description = "TRIGGER_NOT_FOUND")))]
#[patch("/trigger/{id}")]
pub async fn edit_trigger(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<UpdateTrigger>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TRIGGER_NOT_FOUND", "trigger")?;
    let request = body.0;
    let status = check_common(
        request.status,
        request.tag.as_deref(),
        request.description.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let mut tx = state.pool.begin().await?;
    let tags = match &request.tag {
        Some(raw) => Some(owned_tags(&mut tx, user.account_id, raw).await?),
        None => None,
    };
    let found = db::triggers::update(
        &mut tx,
        user.account_id,
        id,
        status,
        request.include_result,
        request.description.as_deref(),
    )
    .await?;
    if !found {
        return Err(not_found(&path));
    }
    if let Some(tags) = tags {
        db::triggers::set_tags(&mut tx, id, &tags).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One trigger with its firing counters.
#[utoipa::path(get, path = "/v1/trigger/{id}", tag = "trigger", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = TriggerView), (status = 404, description = "TRIGGER_NOT_FOUND")))]
#[get("/trigger/{id}")]
pub async fn get_trigger(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TRIGGER_NOT_FOUND", "trigger")?;
    let mut conn = state.pool.acquire().await?;
    let (mut rows, _) =
        db::triggers::page(&mut conn, user.account_id, Some(id), None, 0, 1).await?;
    let row = rows.pop().ok_or_else(|| not_found(&path))?;
    let tags = db::triggers::tags_of(&mut conn, &[id]).await?;
    let tags = tags.into_iter().map(|(_, tag)| tag).collect();
    Ok(HttpResponse::Ok().json(view(row, tags)))
}

/// Deletes a trigger; firings not yet submitted are dropped with it.
#[utoipa::path(delete, path = "/v1/trigger/{id}", tag = "trigger", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "TRIGGER_NOT_FOUND")))]
#[delete("/trigger/{id}")]
pub async fn delete_trigger(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TRIGGER_NOT_FOUND", "trigger")?;
    let mut conn = state.pool.acquire().await?;
    if !db::triggers::delete(&mut conn, user.account_id, id).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Paging of the list, in the query or in a JSON body on GET (GreenCloud's form).
#[derive(Debug, Default, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TriggerListParams {
    pub page: Option<i64>,
    /// 1–999 (default 10).
    pub limit: Option<i64>,
    pub function_id: Option<String>,
}

/// The caller's triggers, oldest first: `{pageCount, pageSize, totalCount, results}`.
#[utoipa::path(get, path = "/v1/trigger/list", tag = "trigger", security(("bearer" = [])),
    params(TriggerListParams), responses((status = 200), (status = 400, body = crate::error::Problem)))]
#[get("/trigger/list")]
pub async fn list_triggers(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<TriggerListParams>,
    body: OptionalJson<TriggerListParams>,
) -> ApiResult<HttpResponse> {
    let (query, body) = (query.into_inner(), body.0);
    let request = page_request(query.page.or(body.page), query.limit.or(body.limit))?;
    let function_id = query_id(
        query.function_id.as_deref().or(body.function_id.as_deref()),
        "functionId",
    )?;
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = db::triggers::page(
        &mut conn,
        user.account_id,
        None,
        function_id,
        request.offset,
        request.limit,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut tags: HashMap<Uuid, Vec<TagRow>> = HashMap::new();
    for (trigger, tag) in db::triggers::tags_of(&mut conn, &ids).await? {
        tags.entry(trigger).or_default().push(tag);
    }
    let results: Vec<TriggerView> = rows
        .into_iter()
        .map(|row| {
            let mine = tags.remove(&row.id).unwrap_or_default();
            view(row, mine)
        })
        .collect();
    Ok(HttpResponse::Ok().json(page_body(request, total, results)))
}
