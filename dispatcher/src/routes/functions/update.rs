//! Changing functions: edit, togglePause, delete, restore, set capabilities.

use actix_web::{delete, patch, post, web, HttpResponse};

use super::{function_id, not_found, owned_tags};
use crate::db;
use crate::db::functions::CapabilityChange;
use crate::domain::function::{SetCapabilities, UpdateFunction};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::state::AppState;

/// Changes name, description, tags and/or the custom image; fields left out keep their value.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateFunction,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[patch("/function/{id}")]
pub async fn edit_function(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<UpdateFunction>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let request = body.0;
    let mut tx = state.pool.begin().await?;
    let found = db::functions::update_meta(
        &mut tx,
        user.account_id,
        id,
        request.name.as_deref(),
        request.description.as_deref(),
    )
    .await?;
    if !found {
        return Err(not_found(&path));
    }
    if let Some(raw_tags) = &request.tag {
        let tags = owned_tags(&mut tx, user.account_id, raw_tags).await?;
        db::functions::set_tags(&mut tx, id, &tags).await?;
    }
    if let Some(image) = request.image.as_deref() {
        // The empty string goes back to the language's runtime image.
        let image = Some(image).filter(|image| !image.is_empty());
        db::images::set_image(&mut tx, id, image).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Pauses or unpauses a function; `paused` in GET shows the state.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[post("/function/{id}/togglePause")]
pub async fn toggle_pause(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    let paused = db::functions::toggle_pause(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    tracing::info!(function.id = %path, paused, "function pause toggled");
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a function (soft: `POST /v1/function/{id}/restore` brings it back).
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[delete("/function/{id}")]
pub async fn delete_function(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    if !db::functions::soft_delete(&mut conn, user.account_id, id).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Restores a deleted function with its tags and capabilities.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "FUNCTION_NOT_FOUND: no deleted function with this id")))]
#[post("/function/{id}/restore")]
pub async fn restore_function(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    if !db::functions::restore(&mut conn, user.account_id, id).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Sets capabilities; fields left out keep their value. `privilaged` is accepted for `privileged`.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)), request_body = SetCapabilities,
    responses((status = 204), (status = 400, body = crate::error::Problem),
              (status = 403, description = "PRIVILEGED_NOT_APPROVED"), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[post("/function/{id}/capabilities")]
pub async fn set_capabilities(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<SetCapabilities>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let request = body.0;
    // Validation bounded every value far below i32::MAX.
    let to_i32 = |value: Option<u32>| value.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
    let change = CapabilityChange {
        timeout_s: to_i32(request.timeout),
        cpu_count: to_i32(request.cpu_count),
        mem_size_mb: to_i32(request.mem_size),
        network_latency_ms: to_i32(request.network_latency),
        privileged: request.privileged,
        volunteers: request.volunteers,
    };
    let mut conn = state.pool.acquire().await?;
    if request.privileged == Some(true)
        && !db::trust::privileged_approved(&mut conn, user.account_id).await?
    {
        return Err(ApiError::forbidden(
            "PRIVILEGED_NOT_APPROVED",
            "privileged functions need an admin's approval of your account",
        ));
    }
    if !db::functions::update_capabilities(&mut conn, user.account_id, id, &change).await? {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::NoContent().finish())
}
