//! Rotating refresh tokens with reuse detection.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What presenting a refresh token found.
#[derive(Debug, PartialEq, Eq)]
pub enum Redemption {
    /// Fresh token, now marked used: mint the next one in the same family.
    Valid { account_id: Uuid, family_id: Uuid },
    /// Already used before: a stolen copy may be in play.
    Reused { family_id: Uuid },
    /// Unknown, expired or revoked.
    Invalid,
}

pub async fn insert(
    conn: &mut PgConnection,
    account_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO refresh_tokens (id, account_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        canopy_shared::new_id(),
        account_id,
        family_id,
        token_hash,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a token used, atomically, and says whether it was valid, reused or unknown.
pub async fn redeem(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<Redemption> {
    let fresh = sqlx::query!(
        "UPDATE refresh_tokens SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING account_id, family_id",
        token_hash
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = fresh {
        return Ok(Redemption::Valid {
            account_id: row.account_id,
            family_id: row.family_id,
        });
    }
    let known = sqlx::query!(
        "SELECT family_id, used_at FROM refresh_tokens WHERE token_hash = $1",
        token_hash
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match known {
        Some(row) if row.used_at.is_some() => Redemption::Reused {
            family_id: row.family_id,
        },
        _ => Redemption::Invalid,
    })
}

pub async fn revoke_family(conn: &mut PgConnection, family_id: Uuid) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

pub async fn revoke_all_for_account(
    conn: &mut PgConnection,
    account_id: Uuid,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
