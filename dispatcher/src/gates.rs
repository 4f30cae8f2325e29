//! Bounded work: how many code uploads and artifact downloads run at once, and how much memory
//! they may hold together, so that memory stays bounded whatever the number of callers. Uploads
//! are spooled to disk and downloads streamed in chunks, so each holds a small, fixed working
//! set (`UPLOAD_WORKING_SET`, `DOWNLOAD_WORKING_SET`) taken from `--transfer-memory-mb`.
//! Callers beyond a bound wait their turn for `--busy-wait-s`, then get 503 with `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult};
use crate::settings::DispatchSettings;

/// Memory one upload holds while it is received, unpacked and stored: socket and file buffers,
/// the decompressor's window, the entry list (at most 10 000 paths) and one copy chunk.
pub const UPLOAD_WORKING_SET: u64 = 8 * 1024 * 1024;
/// Memory one artifact download holds: one chunk read from Postgres and its response buffers.
pub const DOWNLOAD_WORKING_SET: u64 = 2 * 1024 * 1024;
/// The memory budget counts in KiB, so a u32 of permits covers any budget.
const UNIT: u64 = 1024;

#[derive(Debug)]
pub struct Gates {
    builds: Arc<Semaphore>,
    artifacts: Arc<Semaphore>,
    /// The transfer memory budget, in `UNIT`s.
    memory: Arc<Semaphore>,
    memory_units: u32,
    wait: Duration,
}

/// Memory of the transfer budget held beyond a turn's working set.
#[derive(Debug)]
pub struct MemoryHold {
    _permit: OwnedSemaphorePermit,
}

/// A turn to transfer: its place among the concurrent ones and its share of the memory budget.
#[derive(Debug)]
pub struct Turn {
    _place: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
}

impl Gates {
    pub fn new(settings: &DispatchSettings) -> Self {
        let memory_units = u32::try_from(
            settings
                .transfer_memory_mb
                .max(1)
                .saturating_mul(1024 * 1024)
                / UNIT,
        )
        .unwrap_or(u32::MAX);
        Gates {
            builds: Arc::new(Semaphore::new(settings.concurrent_builds.max(1))),
            artifacts: Arc::new(Semaphore::new(
                settings.concurrent_artifact_downloads.max(1),
            )),
            memory: Arc::new(Semaphore::new(memory_units as usize)),
            memory_units,
            wait: Duration::from_secs(settings.busy_wait_s),
        }
    }

    /// A turn to receive, unpack and store a code upload.
    pub async fn build(&self) -> ApiResult<Turn> {
        let place = self
            .enter(&self.builds, 1, "BUILDS_BUSY", "code uploads")
            .await?;
        self.with_memory(place, UPLOAD_WORKING_SET).await
    }

    /// A turn to send a code package to a worker.
    pub async fn artifact(&self) -> ApiResult<Turn> {
        let place = self
            .enter(
                &self.artifacts,
                1,
                "ARTIFACTS_BUSY",
                "code package downloads",
            )
            .await?;
        self.with_memory(place, DOWNLOAD_WORKING_SET).await
    }

    /// The most a `hold` may take: the budget less the upload turn that holds it.
    pub fn holdable_bytes(&self) -> u64 {
        (u64::from(self.memory_units) * UNIT).saturating_sub(UPLOAD_WORKING_SET)
    }

    /// Takes `bytes` (at most `holdable_bytes`) of the memory budget on top of an upload turn,
    /// for a body that must be held whole (a Serverledge `/create` carries its code as base64
    /// inside JSON).
    pub async fn hold(&self, bytes: u64) -> ApiResult<MemoryHold> {
        Ok(MemoryHold {
            _permit: self.memory(bytes.min(self.holdable_bytes())).await?,
        })
    }

    async fn with_memory(&self, place: OwnedSemaphorePermit, bytes: u64) -> ApiResult<Turn> {
        Ok(Turn {
            _place: place,
            _memory: self.memory(bytes).await?,
        })
    }

    /// Takes `bytes` of the memory budget (all of it at most, so one transfer always fits).
    async fn memory(&self, bytes: u64) -> ApiResult<OwnedSemaphorePermit> {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.memory_units);
        self.enter(
            &self.memory,
            units,
            "TRANSFER_MEMORY_BUSY",
            "uploads and downloads holding the transfer memory budget",
        )
        .await
    }

    async fn enter(
        &self,
        gate: &Arc<Semaphore>,
        permits: u32,
        code: &'static str,
        what: &str,
    ) -> ApiResult<OwnedSemaphorePermit> {
        let acquire = Arc::clone(gate).acquire_many_owned(permits);
        match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::busy(
                code,
                format!("too many {what} at once; try again shortly"),
                self.wait.as_secs().max(1),
            )),
        }
    }
}
