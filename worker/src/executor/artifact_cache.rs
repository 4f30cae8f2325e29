//! The code package cache's disk budget: which packages are in use (leases held by starting,
//! running and warm containers), when each was last used, and which to remove, least recently
//! used first, to fit the budget.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One cached package on disk: its tar and its extracted tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub sha256: String,
    pub bytes: u64,
    pub last_used: SystemTime,
}

/// The packages to remove so the rest fits `budget` bytes: least recently used first, never one
/// in `in_use` (those may leave the cache over budget until they are released).
pub fn to_evict(
    mut cached: Vec<Cached>,
    budget: u64,
    in_use: &dyn Fn(&str) -> bool,
) -> Vec<Cached> {
    let mut total: u64 = cached.iter().map(|entry| entry.bytes).sum();
    cached.sort_by(|a, b| a.last_used.cmp(&b.last_used).then(a.sha256.cmp(&b.sha256)));
    let mut evicted = Vec::new();
    for entry in cached {
        if total <= budget {
            break;
        }
        if in_use(&entry.sha256) {
            continue;
        }
        total -= entry.bytes;
        evicted.push(entry);
    }
    evicted
}

/// Which packages are held, and when each was last handed out.
#[derive(Debug, Default)]
pub struct Usage {
    leases: Mutex<HashMap<String, usize>>,
    last_used: Mutex<HashMap<String, SystemTime>>,
}

impl Usage {
    /// Holds `sha256` in the cache until the returned lease (and its clones) are dropped.
    pub fn lease(self: &Arc<Self>, sha256: &str) -> CodeLease {
        if let Ok(mut leases) = self.leases.lock() {
            *leases.entry(sha256.to_owned()).or_default() += 1;
        }
        if let Ok(mut last) = self.last_used.lock() {
            last.insert(sha256.to_owned(), SystemTime::now());
        }
        CodeLease(Arc::new(Held {
            sha256: sha256.to_owned(),
            usage: Arc::clone(self),
        }))
    }

    pub fn in_use(&self, sha256: &str) -> bool {
        self.leases
            .lock()
            .map(|leases| leases.get(sha256).is_some_and(|count| *count > 0))
            // A poisoned map: keep everything rather than risk removing code in use.
            .unwrap_or(true)
    }

    /// Runs `remove` unless `sha256` is leased, holding the lease table meanwhile, so a lease
    /// taken concurrently (a cache hit) either comes first and keeps the package, or after and
    /// finds it gone (and downloads it again). True when removed.
    pub fn remove_unless_leased(
        &self,
        sha256: &str,
        remove: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        let Ok(leases) = self.leases.lock() else {
            return Ok(false);
        };
        if leases.get(sha256).is_some_and(|count| *count > 0) {
            return Ok(false);
        }
        remove()?;
        drop(leases);
        Ok(true)
    }

    /// When `sha256` was last handed out by this process, if it was.
    pub fn last_used(&self, sha256: &str) -> Option<SystemTime> {
        self.last_used
            .lock()
            .ok()
            .and_then(|last| last.get(sha256).copied())
    }

    fn release(&self, sha256: &str) {
        if let Ok(mut leases) = self.leases.lock() {
            if let Some(count) = leases.get_mut(sha256) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    leases.remove(sha256);
                }
            }
        }
    }
}

/// A hold on a cached package: the cache never removes it while a clone of this lives (a
/// container that bind-mounts the code keeps one for its whole life).
#[derive(Debug, Clone)]
pub struct CodeLease(Arc<Held>);

impl CodeLease {
    pub fn sha256(&self) -> &str {
        &self.0.sha256
    }
}

impl PartialEq for CodeLease {
    fn eq(&self, other: &Self) -> bool {
        self.sha256() == other.sha256()
    }
}

#[derive(Debug)]
struct Held {
    sha256: String,
    usage: Arc<Usage>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.usage.release(&self.sha256);
    }
}

/// The packages under `root` (`artifacts/<sha>.tar` and `code/<sha>/`), sized, with their last
/// use from `usage` or else their files' modification time (after a restart).
pub fn scan(root: &Path, usage: &Usage) -> std::io::Result<Vec<Cached>> {
    let mut found: HashMap<String, (u64, SystemTime)> = HashMap::new();
    let mut note = |sha256: String, bytes: u64, modified: SystemTime| {
        let entry = found.entry(sha256).or_insert((0, SystemTime::UNIX_EPOCH));
        entry.0 += bytes;
        entry.1 = entry.1.max(modified);
    };
    for entry in read_dir_or_empty(&root.join("artifacts"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(sha256) = name.strip_suffix(".tar").filter(|sha| is_sha256(sha)) {
            let meta = entry.metadata()?;
            note(sha256.to_owned(), meta.len(), meta.modified()?);
        }
    }
    for entry in read_dir_or_empty(&root.join("code"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_sha256(&name) {
            let meta = entry.metadata()?;
            note(name, tree_bytes(&entry.path())?, meta.modified()?);
        }
    }
    Ok(found
        .into_iter()
        .map(|(sha256, (bytes, modified))| Cached {
            last_used: usage.last_used(&sha256).unwrap_or(modified),
            sha256,
            bytes,
        })
        .collect())
}

/// Removes a package's tar and extracted tree.
pub fn remove(root: &Path, sha256: &str) -> std::io::Result<()> {
    let tar = root.join("artifacts").join(format!("{sha256}.tar"));
    match fs::remove_file(tar) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    match fs::remove_dir_all(root.join("code").join(sha256)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<std::io::Result<fs::DirEntry>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

fn tree_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += tree_bytes(&entry.path())?;
        } else {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
#[path = "artifact_cache_tests.rs"]
mod tests;
