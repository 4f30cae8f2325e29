//! Failed-login counters behind the login rate limit.

use sqlx::PgConnection;

/// Recent failures of one kind: how many within the window, and seconds since the last one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Failures {
    pub count: i64,
    pub since_last_s: f64,
}

/// Failures within the last `window_s` seconds for this email from this client address, and for
/// this client address whatever the email.
pub async fn count_recent(
    conn: &mut PgConnection,
    email: &str,
    client_addr: &str,
    window_s: i64,
) -> sqlx::Result<(Failures, Failures)> {
    let row = sqlx::query!(
        r#"SELECT
             count(*) FILTER (WHERE email = lower($1)) AS "pair!",
             extract(epoch FROM now() - max(failed_at) FILTER (WHERE email = lower($1)))::float8 AS pair_since,
             count(*) AS "addr!",
             extract(epoch FROM now() - max(failed_at))::float8 AS addr_since
           FROM login_failures
           WHERE client_addr = $2 AND failed_at > now() - make_interval(secs => $3)"#,
        email,
        client_addr,
        window_s as f64
    )
    .fetch_one(conn)
    .await?;
    let pair = Failures {
        count: row.pair,
        since_last_s: row.pair_since.unwrap_or(f64::MAX),
    };
    let addr = Failures {
        count: row.addr,
        since_last_s: row.addr_since.unwrap_or(f64::MAX),
    };
    Ok((pair, addr))
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

/// Forgets an email's failures from this address after a successful login from it.
pub async fn clear_pair(
    conn: &mut PgConnection,
    email: &str,
    client_addr: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM login_failures WHERE email = lower($1) AND client_addr = $2",
        email,
        client_addr
    )
    .execute(conn)
    .await?;
    Ok(())
}
