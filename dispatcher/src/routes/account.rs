//! `/v1/user/flags`, the mailed password reset and account deletion. GreenCloud's shapes are kept where clients
//! depend on them, its weak points fixed: an omitted flag keeps its value, and the confirm step
//! is a POST (its GET-with-a-body form is accepted too).

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::auth::{account_gone, reload_revocations, reverify, Attempt};
use crate::auth::{password, secret};
use crate::db;
use crate::domain::rules;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_flags)
        .service(set_flags)
        .service(request_reset)
        .service(confirm_reset)
        .service(confirm_reset_get)
        .service(delete_account);
}

/// How long a mailed reset code works.
const RESET_CODE_MINUTES: i64 = 30;

/// GreenCloud's account flags; on update an omitted flag keeps its value.
#[derive(Debug, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Flags {
    pub bundle_auto_renewal: Option<bool>,
    pub low_quota_notification: Option<bool>,
}

/// The caller's flags.
#[utoipa::path(tag = "user", security(("bearer" = [])), responses((status = 200, body = Flags)))]
#[get("/user/flags")]
pub async fn get_flags(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let flags = db::account_settings::flags(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    Ok(HttpResponse::Ok().json(Flags {
        bundle_auto_renewal: Some(flags.bundle_auto_renewal),
        low_quota_notification: Some(flags.low_quota_notification),
    }))
}

/// Changes the flags given (an omitted one keeps its value, unlike GreenCloud).
#[utoipa::path(tag = "user", security(("bearer" = [])), request_body = Flags,
    responses((status = 204, description = "changed"), (status = 400, body = crate::error::Problem)))]
#[put("/user/flags")]
pub async fn set_flags(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<Flags>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    db::account_settings::set_flags(
        &mut conn,
        user.account_id,
        body.0.bundle_auto_renewal,
        body.0.low_quota_notification,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /v1/user/resetPassword`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[validate(email(message = "must be an email address"))]
    pub email: String,
}

/// Mails a reset code when the email belongs to an active account. Always 204, so the answer
/// does not tell which emails have accounts.
#[utoipa::path(tag = "user", request_body = ResetRequest,
    responses((status = 204, description = "a code was mailed if the account exists"), (status = 400, body = crate::error::Problem)))]
#[post("/user/resetPassword")]
#[tracing::instrument(skip_all)]
pub async fn request_reset(
    state: web::Data<AppState>,
    body: ValidJson<ResetRequest>,
) -> ApiResult<HttpResponse> {
    let email = body.0.email.trim().to_lowercase();
    let mut conn = state.pool.acquire().await?;
    let Some(account) = db::accounts::find_by_email(&mut conn, &email).await? else {
        return Ok(HttpResponse::NoContent().finish());
    };
    if account.activated_at.is_none() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let code = secret::random_hex(8);
    let expires_at = Utc::now() + Duration::minutes(RESET_CODE_MINUTES);
    db::account_settings::insert_reset(&mut conn, account.id, &secret::digest(&code), expires_at)
        .await?;
    if let Err(error) = state
        .mailer
        .send_password_reset_code(&account.email, &code)
        .await
    {
        tracing::error!(%error, "could not mail a password reset code");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Body of the confirm step.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    #[validate(length(min = 1, max = 64, message = "must be the code from the mail"))]
    pub code: String,
    #[validate(custom(function = rules::password))]
    pub password: String,
    /// The current TOTP code, required when 2FA is on.
    pub twofa: Option<String>,
}

/// Sets a new password with a mailed code (and the 2FA code when 2FA is on); every login of the
/// account ends. Wrong codes slow the address down like wrong passwords.
#[utoipa::path(tag = "user", request_body = ResetConfirm,
    responses((status = 204, description = "the password is changed"),
              (status = 403, description = "INVALID_RESET_CODE, TWOFA_REQUIRED or INVALID_TWOFA"),
              (status = 429, description = "TOO_MANY_ATTEMPTS")))]
#[post("/user/resetPassword/confirm")]
pub async fn confirm_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<ResetConfirm>,
) -> ApiResult<HttpResponse> {
    reset(&req, &state, body.0).await
}

/// GreenCloud's form of the confirm step: GET with a JSON body.
#[get("/user/resetPassword")]
pub async fn confirm_reset_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<ResetConfirm>,
) -> ApiResult<HttpResponse> {
    reset(&req, &state, body.0).await
}

async fn reset(
    req: &HttpRequest,
    state: &AppState,
    request: ResetConfirm,
) -> ApiResult<HttpResponse> {
    let attempt = Attempt::reset_code(req);
    let mut conn = state.pool.acquire().await?;
    attempt.guard(&mut conn, &state.auth).await?;
    let code_hash = secret::digest(request.code.trim());
    let Some(account_id) = db::account_settings::reset_account(&mut conn, &code_hash).await? else {
        attempt.failed(&mut conn, &state.auth).await?;
        return Err(ApiError::forbidden(
            "INVALID_RESET_CODE",
            "the reset code is wrong, expired or already used",
        ));
    };
    let account = db::accounts::find_by_id(&mut conn, account_id)
        .await?
        .ok_or_else(account_gone)?;
    reverify::twofa_when_on(
        &mut conn,
        &attempt,
        &state.auth,
        &account,
        request.twofa.as_deref(),
    )
    .await?;
    let new_hash = password::hash_blocking(request.password).await?;
    let mut tx = state.pool.begin().await?;
    if !db::account_settings::consume_reset(&mut tx, &code_hash).await? {
        return Err(ApiError::forbidden(
            "INVALID_RESET_CODE",
            "the reset code is wrong, expired or already used",
        ));
    }
    db::accounts::set_password(&mut tx, account.id, &new_hash).await?;
    db::refresh_tokens::revoke_all_for_account(&mut tx, account.id).await?;
    tx.commit().await?;
    attempt.succeeded(&mut conn).await?;
    reload_revocations(state).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `DELETE /v1/user`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    #[validate(length(min = 1, max = 128, message = "must be your current password"))]
    pub password: String,
    /// The current TOTP code, required when 2FA is on.
    pub twofa: Option<String>,
}

/// Deletes the caller's account after the password (and 2FA code): its data is scrubbed and the
/// email freed, every token and key refused at once, functions and nodes deleted, live tasks
/// cancelled.
#[utoipa::path(tag = "user", security(("bearer" = [])), request_body = DeleteAccount,
    responses((status = 204, description = "deleted"),
              (status = 403, description = "INVALID_CURRENT_PASSWORD, TWOFA_REQUIRED or INVALID_TWOFA")))]
#[delete("/user")]
#[tracing::instrument(skip_all, fields(account.id = %user.account_id))]
pub async fn delete_account(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<DeleteAccount>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let attempt = Attempt::reverify(&req, user.account_id);
    let mut conn = state.pool.acquire().await?;
    attempt.guard(&mut conn, &state.auth).await?;
    let account = db::accounts::find_by_id(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    reverify::password_and_twofa(
        &mut conn,
        &attempt,
        &state.auth,
        &account,
        request.password,
        request.twofa.as_deref(),
    )
    .await?;
    attempt.succeeded(&mut conn).await?;
    let mut tx = state.pool.begin().await?;
    let nodes = db::account_settings::delete_account(&mut tx, account.id).await?;
    tx.commit().await?;
    for node in nodes {
        state.registry.disconnect(node);
    }
    reload_revocations(&state).await;
    tracing::info!("account deleted");
    Ok(HttpResponse::NoContent().finish())
}
