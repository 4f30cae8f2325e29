//! Warm containers: bookkeeping only (no Docker calls, no awaits), so callers never hold its
//! lock while talking to the engine. A container serves one function version and one task at
//! a time: a busy container is checked out, so a concurrent task of the same version gets a
//! fresh one. Idle containers fit a memory budget: past it, the least recently used go.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::artifact_cache::CodeLease;

/// A started, ready container for one function version.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmContainer {
    pub id: String,
    pub addr: SocketAddr,
    /// `functionId@buildId`.
    pub version_key: String,
    /// The folder mounted at `/app` when the container started blank (removed with it).
    pub slot: Option<std::path::PathBuf>,
    /// Its memory limit, MB (what it may take while idle, for the budget).
    pub memory_mb: u32,
    /// Keeps the bind-mounted code in the cache while the container lives (none when the code
    /// was hard-linked into its slot).
    pub code: Option<CodeLease>,
}

#[derive(Debug)]
struct Idle {
    container: WarmContainer,
    since: Instant,
}

/// Idle containers by function version.
#[derive(Debug)]
pub struct WarmPool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
    /// Most memory (MB, by container limits) the idle containers may hold together.
    budget_mb: u64,
}

impl Default for WarmPool {
    fn default() -> Self {
        Self::with_budget(u64::MAX)
    }
}

impl WarmPool {
    /// An empty pool without a memory budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty pool whose idle containers hold at most `budget_mb` together.
    pub fn with_budget(budget_mb: u64) -> Self {
        WarmPool {
            idle: Mutex::new(HashMap::new()),
            budget_mb,
        }
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

    /// Returns a container after a successful task; it is idle from `now`. Returns the least
    /// recently used idle containers that no longer fit the memory budget (to be removed).
    #[must_use = "evicted containers must be removed"]
    pub fn checkin(&self, container: WarmContainer, now: Instant) -> Vec<WarmContainer> {
        let mut idle = self.lock();
        idle.entry(container.version_key.clone())
            .or_default()
            .push(Idle {
                container,
                since: now,
            });
        let mut evicted = Vec::new();
        while held_mb(&idle) > self.budget_mb {
            let Some(oldest) = idle
                .iter()
                .filter_map(|(key, list)| list.first().map(|entry| (entry.since, key.clone())))
                .min()
            else {
                break;
            };
            if let Some(list) = idle.get_mut(&oldest.1) {
                evicted.push(list.remove(0).container);
                if list.is_empty() {
                    idle.remove(&oldest.1);
                }
            }
        }
        evicted
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

/// Memory the idle containers may hold, MB.
fn held_mb(idle: &HashMap<String, Vec<Idle>>) -> u64 {
    idle.values()
        .flatten()
        .map(|entry| u64::from(entry.container.memory_mb))
        .sum()
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
            memory_mb: 256,
            code: None,
        }
    }

    #[test]
    fn a_checked_in_container_is_reused_for_the_same_version_only() {
        let pool = WarmPool::new();
        let now = Instant::now();
        assert!(pool.checkin(container("c1", "f@1"), now).is_empty());
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
        let _ = pool.checkin(container("old", "f@1"), start);
        let _ = pool.checkin(container("new", "f@1"), start + Duration::from_secs(200));
        let _ = pool.checkin(container("other", "g@1"), start + Duration::from_secs(10));
        let expired = pool.take_expired(start + Duration::from_secs(300), Duration::from_secs(290));
        let mut ids: Vec<String> = expired.into_iter().map(|c| c.id).collect();
        ids.sort();
        assert_eq!(ids, ["old", "other"]);
        assert_eq!(pool.warm_versions(), ["f@1"]);
        assert_eq!(pool.take_all().len(), 1);
        assert_eq!(pool.idle_count(), 0);
    }

    #[test]
    fn past_the_memory_budget_the_least_recently_used_go() {
        let pool = WarmPool::with_budget(600);
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        assert!(pool.checkin(container("a", "f@1"), at(1)).is_empty());
        assert!(pool.checkin(container("b", "g@1"), at(2)).is_empty());
        let evicted = pool.checkin(container("c", "h@1"), at(3));
        assert_eq!(
            evicted.into_iter().map(|c| c.id).collect::<Vec<_>>(),
            ["a"],
            "768 MB over a 600 MB budget: the oldest idle goes"
        );
        assert_eq!(pool.warm_versions(), ["g@1", "h@1"]);
        // Reuse refreshes: g is taken and returned, so h is now the oldest.
        let g = pool.checkout("g@1").expect("g");
        assert!(pool.checkin(g, at(4)).is_empty());
        let evicted = pool.checkin(container("d", "k@1"), at(5));
        assert_eq!(evicted.into_iter().map(|c| c.id).collect::<Vec<_>>(), ["c"]);
    }
}
