//! Sessions whose access tokens must be refused before they expire: logins (refresh-token
//! families) and API keys revoked within the last access-token lifetime, and the API keys of
//! accounts disabled within it.

use sqlx::PgConnection;
use uuid::Uuid;

/// Ids of the logins and API keys revoked in the last `within_s` seconds.
pub async fn recent(conn: &mut PgConnection, within_s: i64) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"SELECT family_id AS "id!" FROM refresh_tokens
           WHERE revoked_at > now() - make_interval(secs => $1)
           UNION
           SELECT id FROM api_keys WHERE revoked_at > now() - make_interval(secs => $1)
           UNION
           SELECT k.id FROM api_keys k JOIN accounts a ON a.id = k.account_id
           WHERE a.disabled_at > now() - make_interval(secs => $1)"#,
        within_s as f64
    )
    .fetch_all(conn)
    .await
}
