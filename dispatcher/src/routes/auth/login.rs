//! Login with password (and 2FA), refresh with rotation, and API key exchange.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::session::{check_twofa, invalid_refresh, issue_pair};
use crate::auth::{password, secret};
use crate::db;
use crate::db::refresh_tokens::Redemption;
use crate::domain::account::{ApiKeyLogin, Login, Refresh};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::state::AppState;

/// An access token without a refresh token (API key exchange).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub expires_in: i64,
    pub access_token: String,
    pub token_type: &'static str,
}

/// Logs in with email and password, plus `twofa` when 2FA is on. Failed attempts slow down the
/// client address that makes them, per email and overall, with growing delays (`lockout_wait_s`):
/// an attacker elsewhere never locks the account's owner out, and a shared address is delayed,
/// not locked for the whole window.
#[utoipa::path(tag = "auth", request_body = Login,
    responses((status = 200, body = super::TokenPair),
              (status = 401, description = "INVALID_CREDENTIALS, TWOFA_REQUIRED or INVALID_TWOFA"),
              (status = 403, description = "ACCOUNT_NOT_ACTIVATED"),
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
    let client_addr = req
        .peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    let limits = &state.auth;
    let mut conn = state.pool.acquire().await?;

    let (pair, addr) =
        db::login_failures::count_recent(&mut conn, &email, &client_addr, limits.login_window_s)
            .await?;
    let wait_s = lockout_wait_s(
        pair,
        limits.login_max_failures_per_email,
        limits.login_window_s,
    )
    .max(lockout_wait_s(
        addr,
        limits.login_max_failures_per_addr,
        limits.login_window_s,
    ));
    if wait_s > 0 {
        tracing::warn!(client.addr = %client_addr, wait_s, "login rate limit reached");
        return Err(ApiError::too_many_requests(
            "TOO_MANY_ATTEMPTS",
            "too many failed logins from this address; wait before trying again",
            wait_s,
        ));
    }

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
            db::login_failures::record(&mut conn, &email, &client_addr, limits.login_window_s)
                .await?;
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
            db::login_failures::record(&mut conn, &email, &client_addr, limits.login_window_s)
                .await?;
            return Err(ApiError::unauthorized(
                "INVALID_TWOFA",
                "the 2FA code is wrong, expired or already used",
            ));
        }
    }
    db::login_failures::clear_pair(&mut conn, &email, &client_addr).await?;
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

/// Seconds to wait before the next try after `failures`: none up to `allowed` failures, then 1 s
/// after the last failure, doubling with each further failure, at most the window.
fn lockout_wait_s(failures: db::login_failures::Failures, allowed: i64, window_s: i64) -> u64 {
    if failures.count < allowed {
        return 0;
    }
    let doublings = u32::try_from(failures.count - allowed)
        .unwrap_or(u32::MAX)
        .min(20);
    let delay_s = (1u64 << doublings).min(window_s.unsigned_abs()) as f64;
    let left = delay_s - failures.since_last_s;
    if left > 0.0 {
        left.ceil() as u64
    } else {
        0
    }
}

/// Trades a refresh token for a new pair. Each refresh token works once; presenting a used one
/// revokes every token of its login, in case it was stolen.
#[utoipa::path(tag = "auth", request_body = Refresh,
    responses((status = 200, body = super::TokenPair),
              (status = 401, description = "INVALID_REFRESH_TOKEN or REFRESH_TOKEN_REUSED")))]
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
            let pair = issue_pair(&state, &mut tx, account.id, &account.role, family_id).await?;
            tx.commit().await?;
            Ok(HttpResponse::Ok().json(pair))
        }
        Redemption::Reused { family_id } => {
            let revoked = db::refresh_tokens::revoke_family(&mut tx, family_id).await?;
            tx.commit().await?;
            tracing::warn!(family.id = %canopy_shared::format_id(family_id), revoked, "refresh token reused; family revoked");
            Err(ApiError::unauthorized(
                "REFRESH_TOKEN_REUSED",
                "this refresh token was already used; every session from that login is now revoked",
            ))
        }
        Redemption::Invalid => Err(invalid_refresh()),
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
    let Some((account_id, role)) =
        db::api_keys::authenticate(&mut conn, &secret::digest(body.0.key.trim())).await?
    else {
        return Err(ApiError::unauthorized(
            "INVALID_API_KEY",
            "the API key is unknown or revoked",
        ));
    };
    let access_token = state.tokens.issue(account_id, &role)?;
    Ok(HttpResponse::Ok().json(AccessToken {
        expires_in: state.tokens.ttl_s(),
        access_token,
        token_type: "Bearer",
    }))
}

#[cfg(test)]
mod tests {
    use super::lockout_wait_s;
    use crate::db::login_failures::Failures;

    fn after(count: i64, since_last_s: f64) -> u64 {
        lockout_wait_s(
            Failures {
                count,
                since_last_s,
            },
            5,
            900,
        )
    }

    #[test]
    fn delays_start_at_the_limit_double_and_are_capped_by_the_window() {
        assert_eq!(after(4, 0.0), 0);
        assert_eq!(after(5, 0.0), 1);
        assert_eq!(after(6, 0.5), 2);
        assert_eq!(after(8, 0.0), 8);
        assert_eq!(after(8, 8.5), 0);
        assert_eq!(after(40, 0.0), 900);
    }
}
