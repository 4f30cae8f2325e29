//! API keys: stored as digests, listed by id and prefix, revocable.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An API key without its secret.
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    account_id: Uuid,
    name: &str,
    prefix: &str,
    key_hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO api_keys (id, account_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5)",
        id,
        account_id,
        name,
        prefix,
        key_hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Live keys of an account, oldest first.
pub async fn list_live(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as!(
        ApiKeyRow,
        "SELECT id, name, prefix, created_at, last_used_at FROM api_keys
         WHERE account_id = $1 AND revoked_at IS NULL ORDER BY id",
        account_id
    )
    .fetch_all(conn)
    .await
}

/// Revokes one of the account's keys; false when it does not exist (or is another account's).
pub async fn revoke(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The account (id, role) owning a live key, and the key's id, recording its use.
pub async fn authenticate(
    conn: &mut PgConnection,
    key_hash: &[u8],
) -> sqlx::Result<Option<(Uuid, String, Uuid)>> {
    let row = sqlx::query!(
        "UPDATE api_keys k SET last_used_at = now()
         FROM accounts a
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND a.id = k.account_id AND a.activated_at IS NOT NULL
           AND a.disabled_at IS NULL
         RETURNING a.id, a.role, k.id AS key_id",
        key_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| (row.id, row.role, row.key_id)))
}
