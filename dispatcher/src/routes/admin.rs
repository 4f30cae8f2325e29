//! `/v1/admin`: what only admins decide about trust — pools of accounts whose nodes run each
//! other's tasks, and which accounts may run privileged functions (docs/security.md).

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::db;
use crate::domain::rules;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Role, ValidJson};
use crate::routes::{created, path_id};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_pool)
        .service(list_pools)
        .service(set_pool_members)
        .service(delete_pool)
        .service(approve_privileged);
}

pub(crate) fn require_admin(user: &AuthUser) -> ApiResult<()> {
    if user.role == Role::Admin {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "ADMIN_REQUIRED",
        "only an admin account may do this",
    ))
}

/// Body of `POST /v1/admin/pool`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePool {
    #[validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::alphanum))]
    pub name: String,
    #[validate(length(max = 256, message = "must be at most 256 characters"), custom(function = rules::printascii))]
    pub description: Option<String>,
    /// Ids of the member accounts.
    #[validate(length(max = 1000, message = "must list at most 1000 accounts"), custom(function = rules::unique_ids))]
    pub members: Option<Vec<String>>,
}

/// Body of `PUT /v1/admin/pool/{id}/members`: the complete new member list.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolMembers {
    #[validate(length(max = 1000, message = "must list at most 1000 accounts"), custom(function = rules::unique_ids))]
    pub members: Vec<String>,
}

/// A pool: every member's nodes run the other members' tasks.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Body of `POST /v1/admin/account/{id}/privileged`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivilegedApproval {
    pub approved: bool,
}

fn account_ids(raw: &[String]) -> ApiResult<Vec<Uuid>> {
    raw.iter()
        .enumerate()
        .map(|(index, text)| {
            canopy_shared::parse_id(text).ok_or_else(|| {
                ApiError::invalid_field(format!("members[{index}]"), "must be an account id")
            })
        })
        .collect()
}

/// Creates a pool of accounts.
#[utoipa::path(tag = "admin", security(("bearer" = [])), request_body = CreatePool,
    responses((status = 201, description = "`{\"id\"}`"), (status = 400, body = crate::error::Problem),
              (status = 403, description = "ADMIN_REQUIRED"), (status = 409, description = "POOL_EXISTS")))]
#[post("/admin/pool")]
pub async fn create_pool(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<CreatePool>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let request = body.0;
    let members = account_ids(request.members.as_deref().unwrap_or_default())?;
    let id = canopy_shared::new_id();
    let mut tx = state.pool.begin().await?;
    let description = request.description.as_deref().unwrap_or_default();
    db::trust::insert_pool(&mut tx, id, &request.name, description).await?;
    db::trust::set_members(&mut tx, id, &members).await?;
    tx.commit().await?;
    tracing::info!(pool.id = %canopy_shared::format_id(id), members = members.len(), "pool created");
    Ok(created(
        format!("/v1/admin/pool/{}", canopy_shared::format_id(id)),
        id,
    ))
}

/// Every pool with its members: `{results, next}` (pools are few; `next` is always null).
#[utoipa::path(tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "`{results: [PoolView], next}`"), (status = 403, description = "ADMIN_REQUIRED")))]
#[get("/admin/pool/list")]
pub async fn list_pools(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let mut conn = state.pool.acquire().await?;
    let results: Vec<PoolView> = db::trust::pools(&mut conn)
        .await?
        .into_iter()
        .map(|row| PoolView {
            id: canopy_shared::format_id(row.id),
            name: row.name,
            description: row.description,
            members: row
                .members
                .into_iter()
                .map(canopy_shared::format_id)
                .collect(),
            created_at: row.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": results, "next": null })))
}

/// Replaces a pool's members; connected nodes follow at once.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), request_body = PoolMembers,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, description = "POOL_NOT_FOUND")))]
#[put("/admin/pool/{id}/members")]
pub async fn set_pool_members(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<PoolMembers>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let id = path_id(&path, "POOL_NOT_FOUND", "pool")?;
    let members = account_ids(&body.0.members)?;
    let mut tx = state.pool.begin().await?;
    if !db::trust::set_members(&mut tx, id, &members).await? {
        return Err(ApiError::not_found(
            "POOL_NOT_FOUND",
            format!("no pool {:?}", path.as_str()),
        ));
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a pool; its members' nodes stop running each other's tasks.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "POOL_NOT_FOUND")))]
#[delete("/admin/pool/{id}")]
pub async fn delete_pool(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let id = path_id(&path, "POOL_NOT_FOUND", "pool")?;
    let mut conn = state.pool.acquire().await?;
    if !db::trust::delete_pool(&mut conn, id).await? {
        return Err(ApiError::not_found(
            "POOL_NOT_FOUND",
            format!("no pool {:?}", path.as_str()),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Allows (or stops allowing) an account's functions to ask for `privileged`.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), request_body = PrivilegedApproval,
    responses((status = 204), (status = 403, description = "ADMIN_REQUIRED"), (status = 404, description = "ACCOUNT_NOT_FOUND")))]
#[post("/admin/account/{id}/privileged")]
pub async fn approve_privileged(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<PrivilegedApproval>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let id = path_id(&path, "ACCOUNT_NOT_FOUND", "account")?;
    let mut conn = state.pool.acquire().await?;
    if !db::trust::set_privileged_approved(&mut conn, id, body.0.approved).await? {
        return Err(ApiError::not_found(
            "ACCOUNT_NOT_FOUND",
            format!("no account {:?}", path.as_str()),
        ));
    }
    tracing::info!(account.id = %canopy_shared::format_id(id), approved = body.0.approved, "privileged approval set");
    Ok(HttpResponse::NoContent().finish())
}
