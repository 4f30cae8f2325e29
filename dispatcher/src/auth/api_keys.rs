//! API keys presented directly (the Serverledge facade takes a key where an access token would
//! go), remembered briefly so each call does not cost a database write. Revocation still applies
//! at once: a cached key is checked against the revoked sessions on every use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use super::revocations::Revocations;
use super::secret;
use crate::db;

/// How long a checked key is trusted without asking the database again; shorter than an access
/// token's life, so a key revoked meanwhile is still in the revoked set when the entry expires.
const TRUSTED_FOR: Duration = Duration::from_secs(60);
/// Entries kept at most; the cache is cleared when full rather than growing with guesses.
const MAX_ENTRIES: usize = 10_000;

/// The owner of a key.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub account_id: Uuid,
    pub role: String,
    pub key_id: Uuid,
}

#[derive(Debug, Default)]
pub struct ApiKeyCache {
    checked: Mutex<HashMap<Vec<u8>, (KeyOwner, Instant)>>,
}

impl ApiKeyCache {
    /// The owner of a live key, `None` for an unknown, revoked or disabled one.
    pub async fn owner(
        &self,
        pool: &PgPool,
        revocations: &Revocations,
        key: &str,
    ) -> sqlx::Result<Option<KeyOwner>> {
        let digest = secret::digest(key.trim());
        if let Some(owner) = self.cached(&digest) {
            return Ok((!revocations.is_revoked(owner.key_id)).then_some(owner));
        }
        let mut conn = pool.acquire().await?;
        let Some((account_id, role, key_id)) =
            db::api_keys::authenticate(&mut conn, &digest).await?
        else {
            return Ok(None);
        };
        let owner = KeyOwner {
            account_id,
            role,
            key_id,
        };
        if let Ok(mut checked) = self.checked.lock() {
            if checked.len() >= MAX_ENTRIES {
                checked.clear();
            }
            checked.insert(digest, (owner.clone(), Instant::now()));
        }
        Ok(Some(owner))
    }

    fn cached(&self, digest: &[u8]) -> Option<KeyOwner> {
        let checked = self.checked.lock().ok()?;
        let (owner, at) = checked.get(digest)?;
        (at.elapsed() < TRUSTED_FOR).then(|| owner.clone())
    }
}
