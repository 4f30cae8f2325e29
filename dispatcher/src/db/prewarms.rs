//! Prewarm requests relayed between replicas: a worker's socket lives on one replica, the
//! request may arrive on another (`tasks::prewarm`).

use sqlx::PgConnection;

/// The channel every replica listens on for relayed prewarm requests and their answers.
pub const CHANNEL: &str = "canopy_prewarm";

/// Sends `payload` to every replica (this one included).
pub async fn notify(conn: &mut PgConnection, payload: &str) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_notify('canopy_prewarm', $1)", payload)
        .execute(conn)
        .await?;
    Ok(())
}
