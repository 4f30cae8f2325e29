//! Server-wide secrets shared by all replicas.

use sqlx::PgConnection;

/// The stored secret `name`, storing `candidate` first if none exists yet (first replica wins).
pub async fn load_or_create(
    conn: &mut PgConnection,
    name: &str,
    candidate: &[u8],
) -> sqlx::Result<Vec<u8>> {
    sqlx::query!(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        name,
        candidate
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!("SELECT value FROM server_secrets WHERE name = $1", name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.value)
}
