//! Each account's quota, remembered briefly: every submission asks, and most accounts never
//! change theirs. A change made on this replica applies at once; on others within `FRESH_FOR`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use super::Quota;
use crate::db;

const FRESH_FOR: Duration = Duration::from_secs(5);
/// Entries kept at most; cleared when full rather than growing without bound.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct QuotaBook {
    defaults: Quota,
    known: Mutex<HashMap<Uuid, (Quota, Instant)>>,
}

impl QuotaBook {
    pub fn new(defaults: Quota) -> Self {
        QuotaBook {
            defaults,
            known: Mutex::default(),
        }
    }

    /// The quota that applies to `account`: its own, else the defaults. Reads the database only
    /// when nothing fresh is remembered.
    pub async fn quota(&self, pool: &PgPool, account: Uuid) -> sqlx::Result<Quota> {
        if let Some(quota) = self.remembered(account) {
            return Ok(quota);
        }
        let mut conn = pool.acquire().await?;
        let quota = db::quotas::get(&mut conn, account)
            .await?
            .map_or(self.defaults, |row| Quota::from(&row));
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= MAX_ENTRIES {
                known.clear();
            }
            known.insert(account, (quota, Instant::now()));
        }
        Ok(quota)
    }

    /// The quota of accounts without their own.
    pub fn defaults(&self) -> Quota {
        self.defaults
    }

    /// Forgets what was remembered of `account` (its quota was just changed).
    pub fn forget(&self, account: Uuid) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(&account);
        }
    }

    fn remembered(&self, account: Uuid) -> Option<Quota> {
        let known = self.known.lock().ok()?;
        let (quota, at) = known.get(&account)?;
        (at.elapsed() < FRESH_FOR).then_some(*quota)
    }
}
