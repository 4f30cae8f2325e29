//! Accounts, activation codes and 2FA state.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An account as stored.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub surname: String,
    pub password_hash: String,
    pub role: String,
    pub activated_at: Option<DateTime<Utc>>,
    pub twofa_secret: Option<String>,
    pub twofa_pending_secret: Option<String>,
    pub twofa_last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new account.
#[derive(Debug)]
pub struct NewAccount<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub surname: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub activated: bool,
}

/// Inserts an account; a taken email fails on `accounts_email_key`.
pub async fn insert_account(conn: &mut PgConnection, account: &NewAccount<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO accounts (id, email, name, surname, password_hash, role, activated_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END)",
        account.id,
        account.email,
        account.name,
        account.surname,
        account.password_hash,
        account.role,
        account.activated
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        "SELECT id, email, name, surname, password_hash, role, activated_at, twofa_secret,
                twofa_pending_secret, twofa_last_step, created_at
         FROM accounts WHERE lower(email) = lower($1)",
        email
    )
    .fetch_optional(conn)
    .await
}

pub async fn find_by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        "SELECT id, email, name, surname, password_hash, role, activated_at, twofa_secret,
                twofa_pending_secret, twofa_last_step, created_at
         FROM accounts WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn insert_activation_code(
    conn: &mut PgConnection,
    code_hash: &[u8],
    account_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO activation_codes (code_hash, account_id, expires_at) VALUES ($1, $2, $3)",
        code_hash,
        account_id,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Consumes an unexpired activation code and activates its account; returns the account id.
pub async fn activate_with_code(
    conn: &mut PgConnection,
    code_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    let row = sqlx::query!(
        "WITH used AS (
             DELETE FROM activation_codes WHERE code_hash = $1 AND expires_at > now() RETURNING account_id
         )
         UPDATE accounts SET activated_at = coalesce(activated_at, now()), updated_at = now()
         WHERE id = (SELECT account_id FROM used) RETURNING id",
        code_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| row.id))
}

pub async fn set_password(
    conn: &mut PgConnection,
    id: Uuid,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE accounts SET password_hash = $2, updated_at = now() WHERE id = $1",
        id,
        password_hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_pending_twofa(conn: &mut PgConnection, id: Uuid, seed: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE accounts SET twofa_pending_secret = $2, updated_at = now() WHERE id = $1",
        id,
        seed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns on 2FA with the pending seed, if it is still the one the code was checked against.
pub async fn enable_twofa(
    conn: &mut PgConnection,
    id: Uuid,
    seed: &str,
    step: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE accounts SET twofa_secret = twofa_pending_secret, twofa_pending_secret = NULL,
                twofa_last_step = $3, updated_at = now()
         WHERE id = $1 AND twofa_pending_secret = $2",
        id,
        seed,
        step
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn disable_twofa(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE accounts SET twofa_secret = NULL, twofa_pending_secret = NULL, twofa_last_step = NULL,
                updated_at = now()
         WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that a TOTP step was used; false when it (or a later one) was already used.
pub async fn consume_twofa_step(
    conn: &mut PgConnection,
    id: Uuid,
    step: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE accounts SET twofa_last_step = $2
         WHERE id = $1 AND (twofa_last_step IS NULL OR twofa_last_step < $2)",
        id,
        step
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Makes an existing account an active admin (used by `admin create` on a taken email).
pub async fn promote_to_admin(
    conn: &mut PgConnection,
    email: &str,
    password_hash: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE accounts SET role = 'admin', password_hash = $2, activated_at = coalesce(activated_at, now()),
                updated_at = now()
         WHERE lower(email) = lower($1)",
        email,
        password_hash
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
