//! What admins read about the whole platform: every account, replicas and the health of the
//! background sweepers.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An account as the admin listing shows it (no secrets).
#[derive(Debug, Clone)]
pub struct AccountSummary {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub surname: String,
    pub role: String,
    pub activated: bool,
    pub twofa: bool,
    pub privileged_approved: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub functions: i64,
    pub nodes: i64,
}

/// Accounts after `cursor` in id order, at most `limit`.
pub async fn accounts(
    conn: &mut PgConnection,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<AccountSummary>> {
    sqlx::query_as!(
        AccountSummary,
        r#"SELECT a.id, a.email, a.name, a.surname, a.role,
                  a.activated_at IS NOT NULL AS "activated!", a.twofa_secret IS NOT NULL AS "twofa!",
                  a.privileged_approved, a.disabled_at IS NOT NULL AS "disabled!", a.created_at,
                  (SELECT count(*) FROM functions f WHERE f.account_id = a.id AND f.deleted_at IS NULL) AS "functions!",
                  (SELECT count(*) FROM nodes n WHERE n.account_id = a.id AND n.deleted_at IS NULL) AS "nodes!"
           FROM accounts a WHERE ($1::uuid IS NULL OR a.id > $1)
           ORDER BY a.id LIMIT $2"#,
        cursor,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Disables or enables an account; false when there is no such account. Disabling also ends
/// every login of the account (its refresh tokens are revoked). Both wake every replica's
/// revocation reload, which also refuses access tokens made from the account's API keys.
pub async fn set_disabled(conn: &mut PgConnection, id: Uuid, disabled: bool) -> sqlx::Result<bool> {
    let updated = sqlx::query!(
        "UPDATE accounts SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now()
         WHERE id = $1",
        id,
        disabled
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    if disabled {
        crate::db::refresh_tokens::revoke_all_for_account(conn, id).await?;
    }
    sqlx::query!("SELECT pg_notify('canopy_revoked', '')")
        .execute(conn)
        .await?;
    Ok(true)
}

/// Whether an admin disabled the account.
pub async fn is_disabled(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let disabled = sqlx::query_scalar!(
        r#"SELECT disabled_at IS NOT NULL AS "disabled!" FROM accounts WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(disabled.unwrap_or(false))
}

/// A dispatcher replica's heartbeat row.
#[derive(Debug, Clone)]
pub struct ReplicaRow {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub beat_at: DateTime<Utc>,
    pub beat_age_s: f64,
}

pub async fn replicas(conn: &mut PgConnection) -> sqlx::Result<Vec<ReplicaRow>> {
    sqlx::query_as!(
        ReplicaRow,
        r#"SELECT id, started_at, beat_at, extract(epoch FROM now() - beat_at)::float8 AS "beat_age_s!"
           FROM replicas ORDER BY started_at"#
    )
    .fetch_all(conn)
    .await
}

/// Signs of a stuck queue: what is waiting, and attempts whose lease the sweeper should have
/// ended by now.
#[derive(Debug, Clone)]
pub struct QueueHealth {
    pub queued: i64,
    pub oldest_queued_age_s: Option<f64>,
    pub held: i64,
    pub overdue_leases: i64,
}

/// `overdue_after_s`: how long past its lease an attempt may be before that is a bad sign.
pub async fn queue_health(
    conn: &mut PgConnection,
    overdue_after_s: f64,
) -> sqlx::Result<QueueHealth> {
    sqlx::query_as!(
        QueueHealth,
        r#"SELECT (SELECT count(*) FROM tasks WHERE status = 'queued') AS "queued!",
                  (SELECT extract(epoch FROM now() - min(issued_at))::float8 FROM tasks WHERE status = 'queued') AS oldest_queued_age_s,
                  (SELECT count(*) FROM tasks WHERE status IN ('assigned', 'running')) AS "held!",
                  (SELECT count(*) FROM tasks WHERE status IN ('assigned', 'running')
                      AND lease_expires_at < now() - make_interval(secs => $1)) AS "overdue_leases!""#,
        overdue_after_s
    )
    .fetch_one(conn)
    .await
}
