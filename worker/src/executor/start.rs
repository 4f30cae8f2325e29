//! Getting a ready container for a function version (a blank one given the code, or a new
//! one), putting it back warm, and removing it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use canopy_shared::protocol::{FunctionSpec, Outcome, Timings};
use canopy_shared::Lang;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::artifact::LeasedCode;
use super::engine::{ContainerEngine, ContainerSpec};
use super::pool::WarmContainer;
use super::{failed, invoke, short, Executor, COMPILE_START_TIMEOUT};
use crate::volunteer::Gate;

impl<E: ContainerEngine> Executor<E> {
    /// A warm container of the version, or a started one (its start time in `timings`); a
    /// failure is the attempt's outcome. While the owner's pause lasts, nothing starts.
    pub(super) async fn container_for(
        &self,
        function: &FunctionSpec,
        cancel: &CancellationToken,
        timings: &mut Timings,
    ) -> Result<(WarmContainer, bool), Outcome> {
        loop {
            let mut gate = self.gate.clone();
            tokio::select! {
                _ = cancel.cancelled() => return Err(failed("cancelled")),
                // A dropped gate never closes again.
                _ = gate.wait_for(Gate::is_open) => {}
            }
            if let Some(container) = self.pool.checkout(&function.version_key()) {
                return Ok((container, true));
            }
            let started = Instant::now();
            // Nothing to clean up while the code is fetched, so cancelling drops the fetch.
            let code_dir = tokio::select! {
                _ = cancel.cancelled() => return Err(failed("cancelled")),
                code = self.artifacts.code_dir(&function.artifact_sha256) => code,
            };
            let code = code_dir.map_err(|error| failed(&error.to_string()))?;
            // Starting is bounded by the start timeout and runs to its end, so a cancel never
            // leaves a created container behind.
            match self.start_for(function, &code).await {
                Ok(container) if cancel.is_cancelled() => {
                    self.discard(&container).await;
                    return Err(failed("cancelled"));
                }
                Ok(container) => {
                    timings.init_ms = started.elapsed().as_millis() as u64;
                    return Ok((container, false));
                }
                // The owner's pause froze the start: start again once it is over.
                Err(message) if gate.has_changed().unwrap_or(false) => {
                    debug!(%message, "a start interrupted by the owner's pause; starting again after it");
                }
                Err(message) => return Err(failed(&message)),
            }
        }
    }

    /// How long a container of `lang` may take to become ready: the GO, CS and RS runners compile
    /// the function first (a second or two, more on a loaded host).
    pub fn start_timeout(&self, lang: Lang) -> Duration {
        match lang {
            Lang::Go | Lang::Cs | Lang::Rs => {
                self.settings.start_timeout.max(COMPILE_START_TIMEOUT)
            }
            Lang::Py | Lang::Js | Lang::Rb => self.settings.start_timeout,
        }
    }

    /// A ready container for the function version with its code: a blank one given the code
    /// when one is idle, else a new one started with it (holding the code's lease).
    pub(super) async fn start_for(
        &self,
        function: &FunctionSpec,
        code: &LeasedCode,
    ) -> Result<WarmContainer, String> {
        if let Some(blank) = self.take_blank(function) {
            match self.claim_blank(blank, function, &code.path).await {
                Ok(container) => return Ok(container),
                Err(error) => warn!(%error, "a blank container could not take the code"),
            }
        }
        let spec = self.container_spec(function, code.path.clone())?;
        let (id, addr) = self
            .start_ready(&spec, self.start_timeout(function.lang))
            .await?;
        Ok(WarmContainer {
            id,
            addr,
            version_key: function.version_key(),
            slot: None,
            memory_mb: spec.memory_mb,
            code: Some(code.lease.clone()),
        })
    }

    /// Puts a container back in the warm pool; what no longer fits its memory budget is removed
    /// in the background, off the task's path.
    pub(super) fn keep_warm(&self, container: WarmContainer) {
        let evicted = self.pool.checkin(container, Instant::now());
        if evicted.is_empty() {
            return;
        }
        let engine = Arc::clone(&self.engine);
        tokio::spawn(async move {
            for container in evicted {
                debug!(container.id = %short(&container.id), "evicted: over the warm memory budget");
                if let Err(error) = engine.remove(&container.id).await {
                    warn!(container.id = %short(&container.id), %error, "could not remove container");
                }
                if let Some(slot) = &container.slot {
                    let _ = std::fs::remove_dir_all(slot);
                }
            }
        });
    }

    /// Creates and starts a container and waits until its runner answers, all within the start
    /// timeout; a container that does not make it is removed.
    pub(super) async fn start_ready(
        &self,
        spec: &ContainerSpec,
        start_timeout: Duration,
    ) -> Result<(String, std::net::SocketAddr), String> {
        let id = self.engine.create(spec).await.map_err(|e| e.to_string())?;
        let ready = async {
            self.engine.start(&id).await.map_err(|e| e.to_string())?;
            let addr = self.engine.address(&id).await.map_err(|e| e.to_string())?;
            invoke::wait_ready(&self.http, addr, start_timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(addr)
        };
        match tokio::time::timeout(start_timeout, ready).await {
            Ok(Ok(addr)) => {
                debug!(container.id = %short(&id), "container ready");
                Ok((id, addr))
            }
            Ok(Err(message)) => {
                self.remove_container(&id).await;
                Err(message)
            }
            Err(_) => {
                self.remove_container(&id).await;
                Err(format!(
                    "the container was not ready within {start_timeout:?}"
                ))
            }
        }
    }

    /// Removes a function's container and the folder it was given, if any.
    pub(super) async fn discard(&self, container: &WarmContainer) {
        self.remove_container(&container.id).await;
        if let Some(slot) = &container.slot {
            let _ = std::fs::remove_dir_all(slot);
        }
    }

    /// Kills and removes a container, logging (not returning) a failure.
    pub(super) async fn remove_container(&self, id: &str) {
        if let Err(error) = self.engine.remove(id).await {
            warn!(container.id = %short(id), %error, "could not remove container");
        }
    }
}
