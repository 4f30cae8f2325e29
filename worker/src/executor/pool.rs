//! Warm containers: bookkeeping only (no Docker calls, no awaits), so callers never hold its
//! lock while talking to the engine. A container serves one function version and one task at
//! a time: a busy container is checked out, so a concurrent task of the same version gets a
//! fresh one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A started, ready container for one function version.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmContainer {
    pub id: String,
    pub addr: SocketAddr,
    /// `functionId@buildId`.
    pub version_key: String,
    /// The folder mounted at `/app` when the container started blank (removed with it).
    pub slot: Option<std::path::PathBuf>,
}

#[derive(Debug)]
struct Idle {
    container: WarmContainer,
    since: Instant,
}

/// Idle containers by function version.
#[derive(Debug, Default)]
pub struct WarmPool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

impl WarmPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Idle>>> {
        // The map stays consistent even if a holder panicked: every update is a single push/pop.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the most recently used idle container of `version_key`, if any.
    pub fn checkout(&self, version_key: &str) -> Option<WarmContainer> {
        let mut idle = self.lock();
        let list = idle.get_mut(version_key)?;
        let container = list.pop().map(|entry| entry.container);
        if list.is_empty() {
            idle.remove(version_key);
        }
        container
    }

    /// Returns a container after a successful task; it is idle from `now`.
    pub fn checkin(&self, container: WarmContainer, now: Instant) {
        self.lock()
            .entry(container.version_key.clone())
            .or_default()
            .push(Idle {
                container,
                since: now,
            });
    }

    /// Removes and returns the containers idle for at least `expiry` at `now`.
    pub fn take_expired(&self, now: Instant, expiry: Duration) -> Vec<WarmContainer> {
        let mut idle = self.lock();
        let mut expired = Vec::new();
        idle.retain(|_, list| {
            let (old, fresh): (Vec<Idle>, Vec<Idle>) = list
                .drain(..)
                .partition(|entry| now.saturating_duration_since(entry.since) >= expiry);
            expired.extend(old.into_iter().map(|entry| entry.container));
            *list = fresh;
            !list.is_empty()
        });
        expired
    }

    /// Removes and returns every idle container (shutdown).
    pub fn take_all(&self) -> Vec<WarmContainer> {
        self.lock()
            .drain()
            .flat_map(|(_, list)| list.into_iter().map(|entry| entry.container))
            .collect()
    }

    /// Function versions with an idle container, for `hello`.
    pub fn warm_versions(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Number of idle containers of one version.
    pub fn idle_count_of(&self, version_key: &str) -> usize {
        self.lock().get(version_key).map_or(0, Vec::len)
    }

    /// Number of idle containers.
    pub fn idle_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, key: &str) -> WarmContainer {
        WarmContainer {
            id: id.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            version_key: key.into(),
            slot: None,
        }
    }

    #[test]
    fn a_checked_in_container_is_reused_for_the_same_version_only() {
        let pool = WarmPool::new();
        let now = Instant::now();
        pool.checkin(container("c1", "f@1"), now);
        assert_eq!(pool.checkout("g@1"), None, "never across functions");
        assert_eq!(pool.checkout("f@2"), None, "never across builds");
        assert_eq!(pool.checkout("f@1").map(|c| c.id), Some("c1".into()));
        assert_eq!(
            pool.checkout("f@1"),
            None,
            "a checked-out container is busy"
        );
        assert_eq!(pool.warm_versions(), Vec::<String>::new());
    }

    #[test]
    fn idle_expiry_takes_only_old_containers() {
        let pool = WarmPool::new();
        let start = Instant::now();
        pool.checkin(container("old", "f@1"), start);
        pool.checkin(container("new", "f@1"), start + Duration::from_secs(200));
        pool.checkin(container("other", "g@1"), start + Duration::from_secs(10));
        let expired = pool.take_expired(start + Duration::from_secs(300), Duration::from_secs(290));
        let mut ids: Vec<String> = expired.into_iter().map(|c| c.id).collect();
        ids.sort();
        assert_eq!(ids, ["old", "other"]);
        assert_eq!(pool.warm_versions(), ["f@1"]);
        assert_eq!(pool.take_all().len(), 1);
        assert_eq!(pool.idle_count(), 0);
    }
}
