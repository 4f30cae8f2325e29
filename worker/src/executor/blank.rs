//! Blank containers: started ahead of need for a runtime, hardened as any function container, with
//! an empty folder of their own mounted read-only at `/app`. A cold start then only links the
//! function's code into that folder and asks the runner to load it (`POST /__canopy/load`): no
//! Docker create, start or readiness wait on the task's path. A blank container takes one
//! function version's code, once; from then on it is that version's warm container and is never
//! given to another function or account.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use canopy_shared::protocol::FunctionSpec;
use canopy_shared::Lang;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::engine::{ContainerEngine, ContainerSpec, LABEL_FUNCTION, LABEL_WORKER};
use super::pool::WarmContainer;
use super::{invoke, reserved_memory_mb, short, Executor};

/// Runtimes whose runner can start blank (`CANOPY_BLANK=1`) and load code on request.
pub const BLANK_LANGS: [Lang; 2] = [Lang::Py, Lang::Js];
/// Limits a blank container starts with; a function needing others gets them at claim.
const BLANK_MEMORY_MB: u32 = 256;
const BLANK_CPUS: u32 = 1;
/// How often the pools are topped up even when nothing was taken (a start may have failed).
const REFILL_EVERY: Duration = Duration::from_secs(5);

/// A started, ready container without a function.
#[derive(Debug)]
pub struct BlankContainer {
    pub id: String,
    pub addr: std::net::SocketAddr,
    /// Its `/app`, empty until claimed.
    pub slot: PathBuf,
}

/// Idle blank containers by runtime.
#[derive(Debug, Default)]
pub struct BlankPool {
    idle: Mutex<HashMap<Lang, Vec<BlankContainer>>>,
    taken: tokio::sync::Notify,
}

impl BlankPool {
    fn lock(&self) -> MutexGuard<'_, HashMap<Lang, Vec<BlankContainer>>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self, lang: Lang) -> Option<BlankContainer> {
        let container = self.lock().get_mut(&lang)?.pop();
        if container.is_some() {
            self.taken.notify_one();
        }
        container
    }

    fn put(&self, lang: Lang, container: BlankContainer) {
        self.lock().entry(lang).or_default().push(container);
    }

    /// Idle blank containers of `lang`.
    pub fn count(&self, lang: Lang) -> usize {
        self.lock().get(&lang).map_or(0, Vec::len)
    }

    fn take_all(&self) -> Vec<BlankContainer> {
        self.lock().drain().flat_map(|(_, list)| list).collect()
    }
}

impl<E: ContainerEngine> Executor<E> {
    /// The runtimes that keep blank containers here.
    fn blank_langs(&self) -> Vec<Lang> {
        if self.settings.blank_containers == 0 {
            return Vec::new();
        }
        BLANK_LANGS
            .into_iter()
            .filter(|lang| self.settings.runtime_images.contains_key(lang))
            .collect()
    }

    /// Starts blank containers until every runtime has its target; returns how many started.
    pub async fn fill_blanks(&self) -> usize {
        let mut started = 0;
        for lang in self.blank_langs() {
            while self.blanks.count(lang) < self.settings.blank_containers as usize {
                match self.start_blank(lang).await {
                    Ok(container) => {
                        self.blanks.put(lang, container);
                        started += 1;
                    }
                    Err(error) => {
                        warn!(runtime = lang.lowercase(), %error, "could not start a blank container");
                        break;
                    }
                }
            }
        }
        started
    }

    /// Keeps the pools full until `cancel` fires: at once, after each claim, and periodically.
    pub async fn run_blank_refill(&self, cancel: CancellationToken) {
        loop {
            // No new containers while the owner has paused the worker.
            if self.gate.borrow().is_open() {
                self.fill_blanks().await;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.blanks.taken.notified() => {}
                _ = tokio::time::sleep(REFILL_EVERY) => {}
            }
        }
    }

    async fn start_blank(&self, lang: Lang) -> Result<BlankContainer, String> {
        let image = self
            .settings
            .runtime_images
            .get(&lang)
            .ok_or_else(|| format!("no image for {}", lang.lowercase()))?;
        let slot = self
            .settings
            .slots_dir
            .join(canopy_shared::format_id(canopy_shared::new_id()));
        std::fs::create_dir_all(&slot).map_err(|e| format!("{}: {e}", slot.display()))?;
        let spec = ContainerSpec {
            image: image.clone(),
            code_dir: slot.clone(),
            memory_mb: BLANK_MEMORY_MB,
            cpus: BLANK_CPUS,
            pids_limit: 128,
            privileged: false,
            network: self.settings.network.clone(),
            runtime: self.settings.oci_runtime.clone(),
            labels: HashMap::from([
                (LABEL_WORKER.to_owned(), self.settings.node_id.clone()),
                (
                    LABEL_FUNCTION.to_owned(),
                    format!("blank:{}", lang.lowercase()),
                ),
            ]),
            env: vec!["CANOPY_BLANK=1".to_owned()],
            compile_out: None,
            // Only compiled runtimes execute from /tmp, and none of them starts blank.
            tmp_exec: false,
        };
        match self.start_ready(&spec, self.settings.start_timeout).await {
            Ok((id, addr)) => {
                debug!(container.id = %short(&id), runtime = lang.lowercase(), "blank container ready");
                Ok(BlankContainer { id, addr, slot })
            }
            Err(error) => {
                let _ = std::fs::remove_dir_all(&slot);
                Err(error)
            }
        }
    }

    /// An idle blank container for the function, when it can use one (not privileged, a runtime
    /// whose runner loads on request).
    pub(super) fn take_blank(&self, function: &FunctionSpec) -> Option<BlankContainer> {
        // Blank containers run the language's runtime image, not a custom one.
        if function.capabilities.privileged
            || function.image.is_some()
            || !self.blank_langs().contains(&function.lang)
        {
            return None;
        }
        self.blanks.take(function.lang)
    }

    /// Gives a blank container the function's code: linked into its `/app`, limits set, loaded.
    /// On failure the container is removed (it may hold part of the code) and the caller starts
    /// one the usual way.
    pub(super) async fn claim_blank(
        &self,
        blank: BlankContainer,
        function: &FunctionSpec,
        code_dir: &Path,
    ) -> Result<WarmContainer, String> {
        let container = WarmContainer {
            id: blank.id,
            addr: blank.addr,
            version_key: function.version_key(),
            slot: Some(blank.slot),
            memory_mb: reserved_memory_mb(function.capabilities.mem_size),
            // The slot holds hard links: the cache may drop its copy.
            code: None,
        };
        match self.load_into(&container, function, code_dir).await {
            Ok(()) => Ok(container),
            Err(error) => {
                self.discard(&container).await;
                Err(error)
            }
        }
    }

    async fn load_into(
        &self,
        container: &WarmContainer,
        function: &FunctionSpec,
        code_dir: &Path,
    ) -> Result<(), String> {
        let (from, to) = (
            code_dir.to_owned(),
            container.slot.clone().unwrap_or_default(),
        );
        tokio::task::spawn_blocking(move || link_tree(&from, &to))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("while placing the code: {e}"))?;
        let memory_mb = reserved_memory_mb(function.capabilities.mem_size);
        let cpus = function.capabilities.cpu_count.max(1);
        if (memory_mb, cpus) != (BLANK_MEMORY_MB, BLANK_CPUS) {
            self.engine
                .update_limits(&container.id, memory_mb, cpus)
                .await
                .map_err(|e| e.to_string())?;
        }
        invoke::load(&self.http, container.addr, self.settings.start_timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// Removes the idle blank containers and their folders (shutdown).
    pub(super) async fn remove_blanks(&self) {
        for blank in self.blanks.take_all() {
            if let Err(error) = self.engine.remove(&blank.id).await {
                warn!(container.id = %short(&blank.id), %error, "could not remove container");
            }
            let _ = std::fs::remove_dir_all(&blank.slot);
        }
    }
}

/// Recreates `from`'s tree under `to` with hard links (the code cache and the slots share a
/// filesystem), falling back to copies.
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            link_tree(&entry.path(), &target)?;
        } else if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_tree_is_linked_into_a_slot() {
        let root = std::env::temp_dir().join(format!(
            "canopy-link-{}",
            canopy_shared::format_id(canopy_shared::new_id())
        ));
        let (code, slot) = (root.join("code"), root.join("slot"));
        std::fs::create_dir_all(code.join("lib")).expect("dirs");
        std::fs::create_dir_all(&slot).expect("slot");
        std::fs::write(code.join("handler.py"), "x = 1").expect("file");
        std::fs::write(code.join("lib/util.py"), "y = 2").expect("file");
        link_tree(&code, &slot).expect("linked");
        assert_eq!(
            std::fs::read_to_string(slot.join("lib/util.py")).expect("read"),
            "y = 2"
        );
        assert_eq!(
            std::fs::read_to_string(slot.join("handler.py")).expect("read"),
            "x = 1"
        );
        std::fs::remove_dir_all(root).expect("cleanup");
    }

    #[test]
    fn the_pool_hands_out_each_blank_container_once() {
        let pool = BlankPool::default();
        let blank = |id: &str| BlankContainer {
            id: id.into(),
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            slot: PathBuf::from("/tmp/x"),
        };
        pool.put(Lang::Py, blank("a"));
        pool.put(Lang::Py, blank("b"));
        assert_eq!(pool.count(Lang::Py), 2);
        assert_eq!(pool.take(Lang::Js).map(|c| c.id), None);
        let first = pool.take(Lang::Py).map(|c| c.id);
        let second = pool.take(Lang::Py).map(|c| c.id);
        assert_ne!(first, second);
        assert_eq!(pool.take(Lang::Py).map(|c| c.id), None);
    }
}
