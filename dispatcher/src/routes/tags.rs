//! `/v1/tag`: the caller's tags.

use actix_web::{delete, get, patch, post, web, HttpResponse};

use super::functions::TagView;
use super::{created, path_id};
use crate::db;
use crate::domain::tag::{CreateTag, UpdateTag};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_tags)
        .service(create_tag)
        .service(update_tag)
        .service(delete_tag);
}

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("TAG_NOT_FOUND", format!("no tag with id {raw:?}"))
}

/// Creates a tag; names are unique within an account (409 `TAG_EXISTS`).
#[utoipa::path(tag = "tag", security(("bearer" = [])), request_body = CreateTag,
    responses((status = 201, description = "`{\"id\"}`"), (status = 400, body = crate::error::Problem), (status = 409, description = "TAG_EXISTS")))]
#[post("/tag")]
pub async fn create_tag(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<CreateTag>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let id = canopy_shared::new_id();
    let mut conn = state.pool.acquire().await?;
    db::tags::insert(
        &mut conn,
        id,
        user.account_id,
        request.name.trim(),
        request.color.as_deref(),
    )
    .await?;
    Ok(created(
        format!("/v1/tag/{}", canopy_shared::format_id(id)),
        id,
    ))
}

/// The caller's tags as a bare array.
#[utoipa::path(tag = "tag", security(("bearer" = [])), responses((status = 200, body = [TagView])))]
#[get("/tag/list")]
pub async fn list_tags(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let tags = db::tags::list(&mut conn, user.account_id).await?;
    Ok(HttpResponse::Ok().json(tags.into_iter().map(TagView::from).collect::<Vec<_>>()))
}

/// Renames or recolours a tag.
#[utoipa::path(tag = "tag", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateTag,
    responses((status = 204), (status = 404, description = "TAG_NOT_FOUND"), (status = 409, description = "TAG_EXISTS")))]
#[patch("/tag/{id}")]
pub async fn update_tag(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<UpdateTag>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TAG_NOT_FOUND", "tag")?;
    let request = body.0;
    let mut conn = state.pool.acquire().await?;
    let name = request.name.as_deref().map(str::trim);
    if !db::tags::update(
        &mut conn,
        user.account_id,
        id,
        name,
        request.color.as_deref(),
    )
    .await?
    {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a tag and detaches it from every function.
#[utoipa::path(tag = "tag", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "TAG_NOT_FOUND")))]
#[delete("/tag/{id}")]
pub async fn delete_tag(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TAG_NOT_FOUND", "tag")?;
    let mut conn = state.pool.acquire().await?;
    if !db::tags::delete(&mut conn, user.account_id, id).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}
