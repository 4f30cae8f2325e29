//! `GET /v1/user/quota`, `GET /v1/user/usage`, and the admin's
//! `GET|PUT|DELETE /v1/admin/account/{id}/quota` and `GET /v1/admin/account/{id}/usage`.

use actix_web::{delete, get, put, web, HttpResponse};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use uuid::Uuid;

use super::views::{ledger_view, quota_view, LedgerQuery, LedgerView, QuotaView};
use super::{QuotaError, QuotaExceeded};
use crate::db;
use crate::db::quotas::QuotaRow;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::routes::{path_id, require_admin};
use crate::state::AppState;

/// The largest limit an admin can set (it must fit the database's `integer`).
const MAX_LIMIT: u32 = 1_000_000_000;

/// The OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    own_quota,
    own_usage,
    account_quota,
    set_account_quota,
    clear_account_quota,
    account_usage
))]
pub struct QuotasDoc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(own_quota)
        .service(own_usage)
        .service(account_quota)
        .service(set_account_quota)
        .service(clear_account_quota)
        .service(account_usage);
}

impl From<QuotaExceeded> for ApiError {
    fn from(exceeded: QuotaExceeded) -> Self {
        ApiError::too_many_requests(
            "NO_QUOTA_AVAILABLE",
            exceeded.to_string(),
            exceeded.retry_after_s(),
        )
        .with_field(exceeded.field(), "quota reached")
    }
}

impl From<QuotaError> for ApiError {
    fn from(error: QuotaError) -> Self {
        match error {
            QuotaError::Exceeded(exceeded) => exceeded.into(),
            QuotaError::Database(error) => error.into(),
        }
    }
}

/// Body of `PUT /v1/admin/account/{id}/quota`: an omitted limit keeps its value (the default's
/// when the account had no quota of its own), `null` makes it unlimited.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuotaChange {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub tasks_per_day: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub concurrent_tasks: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub storage_mb: Option<Option<u32>>,
}

/// Tells an explicit `null` (`Some(None)`) from an omitted key (`None`, via `default`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(deserializer).map(Some)
}

impl validator::Validate for QuotaChange {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        let mut errors = validator::ValidationErrors::new();
        for (field, value) in [
            ("tasksPerDay", self.tasks_per_day),
            ("concurrentTasks", self.concurrent_tasks),
            ("storageMb", self.storage_mb),
        ] {
            if value.flatten().is_some_and(|limit| limit > MAX_LIMIT) {
                let mut error = validator::ValidationError::new("range");
                error.message =
                    Some(format!("must be at most {MAX_LIMIT}, or null for no limit").into());
                errors.add(field, error);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[utoipa::path(get, path = "/v1/user/quota", tag = "quotas",
    responses((status = 200, body = QuotaView)))]
#[get("/user/quota")]
pub async fn own_quota(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(quota_view(&state, user.account_id).await?))
}

#[utoipa::path(get, path = "/v1/user/usage", tag = "quotas",
    params(("days" = Option<u32>, Query, description = "days back from today (1–366, default 30)")),
    responses((status = 200, body = LedgerView)))]
#[get("/user/usage")]
pub async fn own_usage(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<LedgerQuery>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ledger_view(&state, user.account_id, &query).await?))
}

#[utoipa::path(get, path = "/v1/admin/account/{id}/quota", tag = "quotas",
    responses((status = 200, body = QuotaView)))]
#[get("/admin/account/{id}/quota")]
pub async fn account_quota(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let account = existing_account(&state, &path).await?;
    Ok(HttpResponse::Ok().json(quota_view(&state, account).await?))
}

#[utoipa::path(put, path = "/v1/admin/account/{id}/quota", tag = "quotas",
    request_body = QuotaChange, responses((status = 200, body = QuotaView)))]
#[put("/admin/account/{id}/quota")]
pub async fn set_account_quota(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<QuotaChange>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let account = existing_account(&state, &path).await?;
    let change = body.0;
    state.quotas.forget(account);
    let current = state.quotas.quota(&state.pool, account).await?;
    let mut tx = state.pool.begin().await?;
    let limit = |change: Option<Option<u32>>, current: Option<u32>| {
        change
            .unwrap_or(current)
            .map(|value| i32::try_from(value).unwrap_or(i32::MAX))
    };
    let row = QuotaRow {
        tasks_per_day: limit(change.tasks_per_day, current.tasks_per_day),
        concurrent_tasks: limit(change.concurrent_tasks, current.concurrent_tasks),
        storage_mb: limit(change.storage_mb, current.storage_mb),
    };
    if !db::quotas::set(&mut tx, account, &row, user.account_id).await? {
        return Err(account_not_found(&path));
    }
    tx.commit().await?;
    state.quotas.forget(account);
    tracing::info!(account.id = %canopy_shared::format_id(account), quota = ?row, "quota set");
    Ok(HttpResponse::Ok().json(quota_view(&state, account).await?))
}

#[utoipa::path(delete, path = "/v1/admin/account/{id}/quota", tag = "quotas",
    responses((status = 204), (status = 404)))]
#[delete("/admin/account/{id}/quota")]
pub async fn clear_account_quota(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let account = existing_account(&state, &path).await?;
    let mut conn = state.pool.acquire().await?;
    if !db::quotas::clear(&mut conn, account).await? {
        return Err(ApiError::not_found(
            "QUOTA_NOT_FOUND",
            "the account has no quota of its own; the defaults already apply",
        ));
    }
    state.quotas.forget(account);
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/v1/admin/account/{id}/usage", tag = "quotas",
    responses((status = 200, body = LedgerView)))]
#[get("/admin/account/{id}/usage")]
pub async fn account_usage(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let account = existing_account(&state, &path).await?;
    Ok(HttpResponse::Ok().json(ledger_view(&state, account, &query).await?))
}

async fn existing_account(state: &AppState, raw: &str) -> ApiResult<Uuid> {
    let account = path_id(raw, "ACCOUNT_NOT_FOUND", "account")?;
    let mut conn = state.pool.acquire().await?;
    if !db::quotas::account_exists(&mut conn, account).await? {
        return Err(account_not_found(raw));
    }
    Ok(account)
}

fn account_not_found(raw: &str) -> ApiError {
    ApiError::not_found("ACCOUNT_NOT_FOUND", format!("no account {raw:?}"))
}
