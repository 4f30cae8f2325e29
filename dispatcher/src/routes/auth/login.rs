//! Login with password (and 2FA), refresh with rotation, and API key exchange.

use actix_web::{post, web, HttpRequest, HttpResponse};
use canopy_shared::api::auth::AccessToken;

use super::attempts::Attempt;
use super::session::{check_twofa, invalid_refresh, issue_pair};
use crate::auth::{password, secret};
use crate::db;
use crate::db::refresh_tokens::Redemption;
use crate::domain::account::{ApiKeyLogin, Login, Refresh};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::state::AppState;

/// Logs in with email and password, plus `twofa` when 2FA is on. Failed attempts slow down the
/// client address that makes them, per email and overall, with growing delays (`attempts`):
/// an attacker elsewhere never locks the account's owner out, and a shared address is delayed,
/// not locked for the whole window.
#[utoipa::path(tag = "auth", request_body = Login,
    responses((status = 200, body = super::TokenPair),
              (status = 401, description = "INVALID_CREDENTIALS, TWOFA_REQUIRED or INVALID_TWOFA"),
              (status = 403, description = "ACCOUNT_NOT_ACTIVATED or ACCOUNT_DISABLED"),
              (status = 429, description = "TOO_MANY_ATTEMPTS, with Retry-After")))]
#[post("/auth/login")]
#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<Login>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let email = request.email.trim().to_lowercase();
    let limits = &state.auth;
    let attempt = Attempt::login(&req, &email);
    let mut conn = state.pool.acquire().await?;
    attempt.guard(&mut conn, limits).await?;

    let account = db::accounts::find_by_email(&mut conn, &email).await?;
    let stored_hash = account
        .as_ref()
        .map_or(password::DUMMY_HASH.to_owned(), |account| {
            account.password_hash.clone()
        });
    let password_ok = password::verify_blocking(request.password, stored_hash).await;
    let account = match account {
        Some(account) if password_ok => account,
        _ => {
            attempt.failed(&mut conn, limits).await?;
            return Err(ApiError::unauthorized(
                "INVALID_CREDENTIALS",
                "the email or password is wrong",
            ));
        }
    };
    if account.activated_at.is_none() {
        return Err(ApiError::forbidden(
            "ACCOUNT_NOT_ACTIVATED",
            "activate the account with the emailed code first",
        ));
    }
    if db::admin_views::is_disabled(&mut conn, account.id).await? {
        return Err(account_disabled());
    }
    if let Some(seed) = &account.twofa_secret {
        let Some(code) = request
            .twofa
            .as_deref()
            .filter(|code| !code.trim().is_empty())
        else {
            return Err(ApiError::unauthorized(
                "TWOFA_REQUIRED",
                "this account has 2FA on: send the current code as `twofa`",
            ));
        };
        if !check_twofa(&mut conn, account.id, seed, code).await? {
            attempt.failed(&mut conn, limits).await?;
            return Err(ApiError::unauthorized(
                "INVALID_TWOFA",
                "the 2FA code is wrong, expired or already used",
            ));
        }
    }
    attempt.succeeded(&mut conn).await?;
    let pair = issue_pair(
        &state,
        &mut conn,
        account.id,
        &account.role,
        canopy_shared::new_id(),
    )
    .await?;
    tracing::info!(account.id = %canopy_shared::format_id(account.id), "login");
    Ok(HttpResponse::Ok().json(pair))
}

/// 403 for an account an admin disabled.
fn account_disabled() -> ApiError {
    ApiError::forbidden(
        "ACCOUNT_DISABLED",
        "an admin disabled this account; ask them to enable it",
    )
}

/// Trades a refresh token for a new pair. Each refresh token works once; presenting a used one
/// revokes every token of its login, in case it was stolen.
#[utoipa::path(tag = "auth", request_body = Refresh,
    responses((status = 200, body = super::TokenPair),
              (status = 401, description = "INVALID_REFRESH_TOKEN or REFRESH_TOKEN_REUSED"),
              (status = 403, description = "ACCOUNT_DISABLED")))]
#[post("/auth/refresh")]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ValidJson<Refresh>,
) -> ApiResult<HttpResponse> {
    let mut tx = state.pool.begin().await?;
    match db::refresh_tokens::redeem(&mut tx, &secret::digest(body.0.refresh_token.trim())).await? {
        Redemption::Valid {
            account_id,
            family_id,
        } => {
            let account = db::accounts::find_by_id(&mut tx, account_id)
                .await?
                .ok_or_else(invalid_refresh)?;
            if db::admin_views::is_disabled(&mut tx, account.id).await? {
                return Err(account_disabled());
            }
            let pair = issue_pair(&state, &mut tx, account.id, &account.role, family_id).await?;
            tx.commit().await?;
            Ok(HttpResponse::Ok().json(pair))
        }
        Redemption::Reused { family_id } => {
            let revoked = db::refresh_tokens::revoke_family(&mut tx, family_id).await?;
            tx.commit().await?;
            reload_revocations(&state).await;
            tracing::warn!(family.id = %canopy_shared::format_id(family_id), revoked, "refresh token reused; family revoked");
            Err(ApiError::unauthorized(
                "REFRESH_TOKEN_REUSED",
                "this refresh token was already used; every session from that login is now revoked",
            ))
        }
        Redemption::Invalid => Err(invalid_refresh()),
    }
}

/// Refreshes this replica's revoked sessions after a revocation made here (the others follow
/// the notification); a failure is logged and the periodic reload catches up.
pub(crate) async fn reload_revocations(state: &AppState) {
    if let Err(error) = state
        .revocations
        .reload(&state.pool, state.tokens.ttl_s())
        .await
    {
        tracing::warn!(error = %error, "could not re-read revoked sessions");
    }
}

/// Trades an API key for an access token (no refresh token: keep the key instead).
#[utoipa::path(tag = "auth", request_body = ApiKeyLogin,
    responses((status = 200, body = AccessToken), (status = 401, description = "INVALID_API_KEY")))]
#[post("/auth/apiKey")]
#[tracing::instrument(skip_all)]
pub async fn api_key_login(
    state: web::Data<AppState>,
    body: ValidJson<ApiKeyLogin>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let Some((account_id, role, key_id)) =
        db::api_keys::authenticate(&mut conn, &secret::digest(body.0.key.trim())).await?
    else {
        return Err(ApiError::unauthorized(
            "INVALID_API_KEY",
            "the API key is unknown or revoked",
        ));
    };
    let access_token = state.tokens.issue(account_id, &role, key_id)?;
    Ok(HttpResponse::Ok().json(AccessToken {
        expires_in: state.tokens.ttl_s(),
        access_token,
        token_type: "Bearer".to_owned(),
    }))
}
