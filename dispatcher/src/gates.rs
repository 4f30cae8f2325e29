//! Bounded work: how many code uploads and artifact downloads run at once, so the memory they
//! hold stays bounded whatever the number of callers (an upload holds its archive and up to
//! 200 MiB unpacked; a download holds its package). Callers beyond the bound wait their turn for
//! `--busy-wait-s`, then get 503 with `Retry-After`.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{ApiError, ApiResult};
use crate::settings::DispatchSettings;

#[derive(Debug)]
pub struct Gates {
    builds: Semaphore,
    artifacts: Semaphore,
    wait: Duration,
}

impl Gates {
    pub fn new(settings: &DispatchSettings) -> Self {
        Gates {
            builds: Semaphore::new(settings.concurrent_builds.max(1)),
            artifacts: Semaphore::new(settings.concurrent_artifact_downloads.max(1)),
            wait: Duration::from_secs(settings.busy_wait_s),
        }
    }

    /// A turn to receive and unpack a code upload.
    pub async fn build(&self) -> ApiResult<SemaphorePermit<'_>> {
        self.enter(&self.builds, "BUILDS_BUSY", "code uploads")
            .await
    }

    /// A turn to send a code package to a worker.
    pub async fn artifact(&self) -> ApiResult<SemaphorePermit<'_>> {
        self.enter(&self.artifacts, "ARTIFACTS_BUSY", "code package downloads")
            .await
    }

    async fn enter<'a>(
        &self,
        gate: &'a Semaphore,
        code: &'static str,
        what: &str,
    ) -> ApiResult<SemaphorePermit<'a>> {
        match tokio::time::timeout(self.wait, gate.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::busy(
                code,
                format!("too many {what} at once; try again shortly"),
                self.wait.as_secs().max(1),
            )),
        }
    }
}
