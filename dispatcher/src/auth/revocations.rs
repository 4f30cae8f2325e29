//! Revoked sessions, in memory on every replica, so a request's access token is checked without
//! a database query. Filled from the database at start, after each `canopy_revoked`
//! notification, after a revocation made here, and every `RELOAD_EVERY` as a safety net.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::db;

/// How often the set is re-read even without a notification.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Revocations {
    revoked: RwLock<HashSet<Uuid>>,
}

impl Revocations {
    /// Whether tokens of this login or API key are refused.
    pub fn is_revoked(&self, session: Uuid) -> bool {
        self.revoked
            .read()
            .map(|revoked| revoked.contains(&session))
            .unwrap_or(false)
    }

    /// Re-reads the revocations younger than an access token can live.
    pub async fn reload(&self, pool: &PgPool, token_ttl_s: i64) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        let ids = db::revocations::recent(&mut conn, token_ttl_s.max(1)).await?;
        if let Ok(mut revoked) = self.revoked.write() {
            *revoked = ids.into_iter().collect();
        }
        Ok(())
    }
}
