//! Re-verifying a signed-in (or resetting) caller before a sensitive step: the current password
//! and, when 2FA is on, a fresh code. Wrong answers count as failed attempts.

use sqlx::PgConnection;

use super::{check_twofa, Attempt};
use crate::auth::password;
use crate::db::accounts::AccountRow;
use crate::error::{ApiError, ApiResult};
use crate::settings::AuthSettings;

/// The account's current password, then its second factor.
pub async fn password_and_twofa(
    conn: &mut PgConnection,
    attempt: &Attempt,
    limits: &AuthSettings,
    account: &AccountRow,
    current_password: String,
    twofa: Option<&str>,
) -> ApiResult<()> {
    if !password::verify_blocking(current_password, account.password_hash.clone()).await {
        attempt.failed(conn, limits).await?;
        return Err(ApiError::forbidden(
            "INVALID_CURRENT_PASSWORD",
            "the current password is wrong",
        ));
    }
    twofa_when_on(conn, attempt, limits, account, twofa).await
}

/// When the account has 2FA on, `code` must be a current, unused TOTP code.
pub async fn twofa_when_on(
    conn: &mut PgConnection,
    attempt: &Attempt,
    limits: &AuthSettings,
    account: &AccountRow,
    code: Option<&str>,
) -> ApiResult<()> {
    let Some(seed) = &account.twofa_secret else {
        return Ok(());
    };
    let Some(code) = code else {
        return Err(ApiError::forbidden(
            "TWOFA_REQUIRED",
            "this account has 2FA on: send the current code as `twofa`",
        ));
    };
    if !check_twofa(conn, account.id, seed, code).await? {
        attempt.failed(conn, limits).await?;
        return Err(ApiError::forbidden(
            "INVALID_TWOFA",
            "the 2FA code is wrong, expired or already used",
        ));
    }
    Ok(())
}
