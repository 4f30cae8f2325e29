//! Failed-login counters behind the login rate limit.

use sqlx::PgConnection;

/// Failures within the last `window_s` seconds for this email and for this client address.
pub async fn count_recent(
    conn: &mut PgConnection,
    email: &str,
    client_addr: &str,
    window_s: i64,
) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM login_failures
               WHERE email = lower($1) AND failed_at > now() - make_interval(secs => $3)) AS "by_email!",
             (SELECT count(*) FROM login_failures
               WHERE client_addr = $2 AND failed_at > now() - make_interval(secs => $3)) AS "by_addr!""#,
        email,
        client_addr,
        window_s as f64
    )
    .fetch_one(conn)
    .await?;
    Ok((row.by_email, row.by_addr))
}

/// Records a failure and drops this email's failures older than the window.
pub async fn record(
    conn: &mut PgConnection,
    email: &str,
    client_addr: &str,
    window_s: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH pruned AS (
             DELETE FROM login_failures WHERE email = lower($1) AND failed_at <= now() - make_interval(secs => $3)
         )
         INSERT INTO login_failures (email, client_addr) VALUES (lower($1), $2)",
        email,
        client_addr,
        window_s as f64
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets an email's failures after a successful login.
pub async fn clear_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM login_failures WHERE email = lower($1)", email)
        .execute(conn)
        .await?;
    Ok(())
}
