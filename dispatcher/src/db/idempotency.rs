//! `Idempotency-Key` on task creation: the first request with a key wins for 24 hours.

use sqlx::PgConnection;
use uuid::Uuid;

/// What a key says about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: the new task is recorded under the key (in the caller's transaction).
    New,
    /// Seen within 24 h: the first task, and whether this request is the same as the first.
    Existing { task_id: Uuid, same_request: bool },
}

/// Claims `key` for `task_id`, or reports the task that already holds it.
pub async fn claim(
    conn: &mut PgConnection,
    account_id: Uuid,
    key: &str,
    request_hash: &[u8],
    task_id: Uuid,
) -> sqlx::Result<Claim> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
        account_id,
        key
    )
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (account_id, key, request_hash, task_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, key) DO NOTHING RETURNING task_id",
        account_id,
        key,
        request_hash,
        task_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::New);
    }
    let existing = sqlx::query!(
        "SELECT request_hash, task_id FROM idempotency_keys WHERE account_id = $1 AND key = $2",
        account_id,
        key
    )
    .fetch_one(conn)
    .await?;
    Ok(Claim::Existing {
        task_id: existing.task_id,
        same_request: existing.request_hash == request_hash,
    })
}

/// Forgets keys older than 24 hours.
pub async fn prune(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let result =
        sqlx::query!("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
            .execute(conn)
            .await?;
    Ok(result.rows_affected())
}
