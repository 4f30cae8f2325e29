//! Account quotas, the daily usage ledger, and the counts a quota is checked against.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

/// An account's own limits (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaRow {
    pub tasks_per_day: Option<i32>,
    pub concurrent_tasks: Option<i32>,
    pub storage_mb: Option<i32>,
}

/// One day of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerDay {
    pub day: NaiveDate,
    pub tasks: i64,
}

/// The account's own quota row; `None` when the defaults apply.
pub async fn get(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<Option<QuotaRow>> {
    sqlx::query_as!(
        QuotaRow,
        "SELECT tasks_per_day, concurrent_tasks, storage_mb FROM account_quotas WHERE account_id = $1",
        account
    )
    .fetch_optional(conn)
    .await
}

/// Sets the account's quota; `false` when there is no such (live) account.
pub async fn set(
    conn: &mut PgConnection,
    account: Uuid,
    quota: &QuotaRow,
    admin: Uuid,
) -> sqlx::Result<bool> {
    let written = sqlx::query!(
        "INSERT INTO account_quotas (account_id, tasks_per_day, concurrent_tasks, storage_mb, updated_by)
         SELECT id, $2, $3, $4, $5 FROM accounts WHERE id = $1 AND deleted_at IS NULL
         ON CONFLICT (account_id) DO UPDATE SET
           tasks_per_day = EXCLUDED.tasks_per_day,
           concurrent_tasks = EXCLUDED.concurrent_tasks,
           storage_mb = EXCLUDED.storage_mb,
           updated_by = EXCLUDED.updated_by,
           updated_at = now()",
        account,
        quota.tasks_per_day,
        quota.concurrent_tasks,
        quota.storage_mb,
        admin
    )
    .execute(conn)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Removes the account's own quota (the defaults apply again); `false` when it had none.
pub async fn clear(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query!("DELETE FROM account_quotas WHERE account_id = $1", account)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Whether a live account with this id exists.
pub async fn account_exists(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND deleted_at IS NULL) AS "exists!""#,
        account
    )
    .fetch_one(conn)
    .await
}

/// Serializes the account's metered submissions (and uploads) until the transaction ends, on
/// every replica, so a count read next stays true until the insert.
pub async fn lock_account(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7301))",
        account.to_string()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Tasks submitted today (UTC) and tasks live now.
pub async fn task_counts(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"SELECT
             (SELECT coalesce(sum(tasks), 0)::bigint FROM usage_ledger
               WHERE account_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date) AS "today!",
             (SELECT count(*) FROM tasks
               WHERE account_id = $1 AND status IN ('queued', 'assigned', 'running')) AS "live!""#,
        account
    )
    .fetch_one(conn)
    .await?;
    Ok((row.today, row.live))
}

/// Bytes of code the account keeps: the distinct artifacts of its live functions' current
/// builds, leaving out `except` (whose build an upload is about to replace).
pub async fn storage_bytes(
    conn: &mut PgConnection,
    account: Uuid,
    except: Option<Uuid>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(sum(a.size_bytes), 0)::bigint AS "bytes!"
           FROM artifacts a
           WHERE a.sha256 IN (
             SELECT b.artifact_sha256 FROM functions f JOIN builds b ON b.id = f.current_build_id
             WHERE f.account_id = $1 AND f.deleted_at IS NULL
               AND ($2::uuid IS NULL OR f.id <> $2))"#,
        account,
        except
    )
    .fetch_one(conn)
    .await
}

/// The ledger's days from `since` on, newest first.
pub async fn ledger(
    conn: &mut PgConnection,
    account: Uuid,
    since: NaiveDate,
) -> sqlx::Result<Vec<LedgerDay>> {
    sqlx::query_as!(
        LedgerDay,
        r#"SELECT day, sum(tasks)::bigint AS "tasks!" FROM usage_ledger
           WHERE account_id = $1 AND day >= $2
           GROUP BY day ORDER BY day DESC"#,
        account,
        since
    )
    .fetch_all(conn)
    .await
}
