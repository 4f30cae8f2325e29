//! Account flags and password-reset codes.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// GreenCloud's account flags.
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    pub bundle_auto_renewal: bool,
    pub low_quota_notification: bool,
}

pub async fn flags(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<Option<Flags>> {
    sqlx::query_as!(
        Flags,
        "SELECT bundle_auto_renewal, low_quota_notification FROM accounts WHERE id = $1",
        account
    )
    .fetch_optional(conn)
    .await
}

/// Changes the flags given; `None` keeps a flag as it is.
pub async fn set_flags(
    conn: &mut PgConnection,
    account: Uuid,
    bundle_auto_renewal: Option<bool>,
    low_quota_notification: Option<bool>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE accounts SET bundle_auto_renewal = coalesce($2, bundle_auto_renewal),
                low_quota_notification = coalesce($3, low_quota_notification), updated_at = now()
         WHERE id = $1",
        account,
        bundle_auto_renewal,
        low_quota_notification
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the account's pending reset code (only the newest one works).
pub async fn insert_reset(
    conn: &mut PgConnection,
    account: Uuid,
    code_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM password_resets WHERE account_id = $1", account)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO password_resets (code_hash, account_id, expires_at) VALUES ($1, $2, $3)",
        code_hash,
        account,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The account of an unexpired reset code, without using it up.
pub async fn reset_account(
    conn: &mut PgConnection,
    code_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT account_id FROM password_resets WHERE code_hash = $1 AND expires_at > now()",
        code_hash
    )
    .fetch_optional(conn)
    .await
}

/// Uses the code up; false when it was used meanwhile.
pub async fn consume_reset(conn: &mut PgConnection, code_hash: &[u8]) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "DELETE FROM password_resets WHERE code_hash = $1 AND expires_at > now()",
        code_hash
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes an account: scrubs it (the email is free again), disables it, revokes its keys and
/// logins, soft-deletes its functions and nodes and cancels its live tasks. Returns its nodes, so
/// their sockets can be closed.
pub async fn delete_account(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query!(
        "UPDATE accounts SET email = 'deleted-' || replace(id::text, '-', '') || '@deleted.invalid',
                name = '', surname = '', password_hash = '!', twofa_secret = NULL,
                twofa_pending_secret = NULL, deleted_at = now(),
                disabled_at = coalesce(disabled_at, now()), updated_at = now()
         WHERE id = $1",
        account
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE api_keys SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
        account
    )
    .execute(&mut *conn)
    .await?;
    crate::db::refresh_tokens::revoke_all_for_account(&mut *conn, account).await?;
    sqlx::query!(
        "UPDATE functions SET deleted_at = now(), updated_at = now()
         WHERE account_id = $1 AND deleted_at IS NULL",
        account
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE tasks SET status = 'cancelled', finished_at = now(), error_kind = 'cancelled',
                error_message = 'the account was deleted'
         WHERE account_id = $1 AND status IN ('queued', 'assigned', 'running')",
        account
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        "UPDATE nodes SET deleted_at = now(), session_id = NULL, updated_at = now()
         WHERE account_id = $1 AND deleted_at IS NULL RETURNING id",
        account
    )
    .fetch_all(conn)
    .await
}
