//! Prewarming: containers of a function version started ahead of its tasks (blank ones given the
//! code when idle) and left warm in the pool, where idle expiry applies as to any other.

use canopy_shared::protocol::FunctionSpec;
use tracing::{info, warn};

use super::engine::ContainerEngine;
use super::Executor;

impl<E: ContainerEngine> Executor<E> {
    /// Starts up to `instances` warm containers of the version (at most the node's concurrency,
    /// counting those already idle); returns how many are idle when it is done.
    pub async fn prewarm(&self, function: &FunctionSpec, instances: u32) -> u32 {
        // A custom image is resolved (and checked against its pin) as for a task; a new pin is
        // reported by the first task instead.
        let function = match self.resolve_image(function).await {
            Ok(resolved) => resolved.function,
            Err(error) => {
                warn!(%error, "prewarm: custom image refused");
                return 0;
            }
        };
        let function = &function;
        let key = function.version_key();
        let wanted = instances.min(self.settings.max_concurrency) as usize;
        if wanted == 0 {
            return 0;
        }
        let code = match self.artifacts.code_dir(&function.artifact_sha256).await {
            Ok(code) => code,
            Err(error) => {
                warn!(function = %key, %error, "prewarm: could not fetch the code");
                return 0;
            }
        };
        while self.pool.idle_count_of(&key) < wanted {
            match self.start_for(function, &code).await {
                Ok(container) => self.keep_warm(container),
                Err(error) => {
                    warn!(function = %key, %error, "prewarm: a container did not start");
                    break;
                }
            }
        }
        let idle = self.pool.idle_count_of(&key);
        info!(function = %key, idle, "prewarmed");
        u32::try_from(idle).unwrap_or(u32::MAX)
    }
}
