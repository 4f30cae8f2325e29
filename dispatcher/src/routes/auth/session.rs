//! Minting token pairs and checking TOTP codes, shared by the auth and account routes.

use chrono::{Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::{secret, totp};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use canopy_shared::api::auth::TokenPair;

/// Issues an access token and a refresh token in `family` (a new family at login).
pub async fn issue_pair(
    state: &AppState,
    conn: &mut PgConnection,
    account_id: Uuid,
    role: &str,
    family_id: Uuid,
) -> ApiResult<TokenPair> {
    let access_token = state.tokens.issue(account_id, role, family_id)?;
    // 256 random bytes: the 512 hex characters GreenCloud clients expect.
    let refresh_token = secret::random_hex(256);
    let expires_at = Utc::now() + Duration::days(state.auth.refresh_token_ttl_days);
    db::refresh_tokens::insert(
        conn,
        account_id,
        family_id,
        &secret::digest(&refresh_token),
        expires_at,
    )
    .await?;
    Ok(TokenPair {
        expires_in: state.tokens.ttl_s(),
        access_token,
        refresh_token,
        token_type: "Bearer".to_owned(),
    })
}

/// Checks a TOTP code against the account's seed and burns its time step so it cannot be replayed.
pub async fn check_twofa(
    conn: &mut PgConnection,
    account_id: Uuid,
    seed: &str,
    code: &str,
) -> ApiResult<bool> {
    let Some(step) = totp::matching_step(seed, code.trim(), Utc::now().timestamp()) else {
        return Ok(false);
    };
    Ok(db::accounts::consume_twofa_step(conn, account_id, step).await?)
}

/// 401 used when a presented refresh token is not valid.
pub fn invalid_refresh() -> ApiError {
    ApiError::unauthorized(
        "INVALID_REFRESH_TOKEN",
        "the refresh token is unknown, expired or revoked; log in again",
    )
}
