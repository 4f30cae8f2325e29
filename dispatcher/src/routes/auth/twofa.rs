//! Turning TOTP two-factor login on and off.

use actix_web::{delete, post, web, HttpRequest, HttpResponse};

use super::attempts::Attempt;
use super::session::check_twofa;
use crate::auth::totp;
use crate::db;
use crate::domain::account::TwofaCode;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::state::AppState;

/// Starts 2FA setup: returns a new seed to load into an authenticator app. 2FA is on only
/// after `verify2FA` confirms a code from it.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "`{seed, otpauthUrl}`"), (status = 409, description = "TWOFA_ALREADY_ENABLED")))]
#[post("/auth/2FA")]
pub async fn start_twofa(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let account = db::accounts::find_by_id(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    if account.twofa_secret.is_some() {
        return Err(ApiError::conflict(
            "TWOFA_ALREADY_ENABLED",
            "2FA is already on; turn it off first to change the seed",
        ));
    }
    let seed = totp::new_seed();
    db::accounts::set_pending_twofa(&mut conn, user.account_id, &seed).await?;
    let url = totp::provisioning_url(&seed, &account.email);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "seed": seed, "otpauthUrl": url })))
}

/// Confirms 2FA setup with a code from the app; 2FA is on from now.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = TwofaCode,
    responses((status = 200, description = "2FA on"), (status = 403, description = "INVALID_TWOFA"),
              (status = 409, description = "TWOFA_NOT_STARTED")))]
#[post("/auth/verify2FA")]
pub async fn verify_twofa(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<TwofaCode>,
) -> ApiResult<HttpResponse> {
    let attempt = Attempt::reverify(&req, user.account_id);
    let mut conn = state.pool.acquire().await?;
    attempt.guard(&mut conn, &state.auth).await?;
    let account = db::accounts::find_by_id(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    let Some(seed) = account.twofa_pending_secret else {
        return Err(ApiError::conflict(
            "TWOFA_NOT_STARTED",
            "call POST /v1/auth/2FA first to get a seed",
        ));
    };
    let step = totp::matching_step(&seed, body.0.code.trim(), chrono::Utc::now().timestamp());
    let Some(step) = step else {
        attempt.failed(&mut conn, &state.auth).await?;
        return Err(invalid_code());
    };
    attempt.succeeded(&mut conn).await?;
    if !db::accounts::enable_twofa(&mut conn, user.account_id, &seed, step).await? {
        return Err(ApiError::conflict(
            "TWOFA_NOT_STARTED",
            "the 2FA setup changed meanwhile; start again",
        ));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "twofa": true })))
}

/// Turns 2FA off; needs a current code.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = TwofaCode,
    responses((status = 204, description = "2FA off"), (status = 403, description = "INVALID_TWOFA"),
              (status = 409, description = "TWOFA_NOT_ENABLED")))]
#[delete("/auth/2FA")]
pub async fn disable_twofa(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<TwofaCode>,
) -> ApiResult<HttpResponse> {
    let attempt = Attempt::reverify(&req, user.account_id);
    let mut conn = state.pool.acquire().await?;
    attempt.guard(&mut conn, &state.auth).await?;
    let account = db::accounts::find_by_id(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    let Some(seed) = account.twofa_secret else {
        return Err(ApiError::conflict("TWOFA_NOT_ENABLED", "2FA is not on"));
    };
    if !check_twofa(&mut conn, user.account_id, &seed, &body.0.code).await? {
        attempt.failed(&mut conn, &state.auth).await?;
        return Err(invalid_code());
    }
    attempt.succeeded(&mut conn).await?;
    db::accounts::disable_twofa(&mut conn, user.account_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn invalid_code() -> ApiError {
    ApiError::forbidden(
        "INVALID_TWOFA",
        "the 2FA code is wrong, expired or already used",
    )
}

/// A valid token whose account no longer exists.
pub(crate) fn account_gone() -> ApiError {
    ApiError::unauthorized(
        "INVALID_TOKEN",
        "the account of this token no longer exists",
    )
}
