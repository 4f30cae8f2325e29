//! The seam over Docker: the few container operations the executor needs, and the locked-down
//! container spec it asks for. `DockerEngine` is the real implementation; tests use a fake.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Port the runner listens on inside the container (`docs/runtime-contract.md`).
pub const RUNNER_PORT: u16 = 8080;
/// Label holding the node id of the worker that owns a container.
pub const LABEL_WORKER: &str = "canopy.worker";
/// Label holding the function version (`functionId@buildId`) a container serves.
pub const LABEL_FUNCTION: &str = "canopy.function";

/// A container engine failure; the attempt fails as retryable.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct EngineError {
    /// What was being done, e.g. `create container`.
    pub operation: &'static str,
    pub message: String,
}

impl EngineError {
    /// An error of `operation` with the engine's message.
    pub fn new(operation: &'static str, message: impl ToString) -> Self {
        EngineError {
            operation,
            message: message.to_string(),
        }
    }
}

/// A function container as the executor wants it; the engine applies every field.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub image: String,
    /// Host directory bind-mounted read-only at `/app`.
    pub code_dir: PathBuf,
    /// Memory limit, MB; swap is limited to the same value (no swap).
    pub memory_mb: u32,
    /// CPU limit in CPUs.
    pub cpus: u32,
    pub pids_limit: i64,
    pub privileged: bool,
    /// `/tmp` may hold executables: the GO and RS runners compile the function there and run it.
    /// Everything else keeps Docker's `noexec` tmpfs.
    pub tmp_exec: bool,
    /// Docker network the container joins (private, without egress).
    pub network: String,
    /// OCI runtime, e.g. `runsc`; `None` is Docker's default.
    pub runtime: Option<String>,
    pub labels: HashMap<String, String>,
    /// Extra environment (`NAME=value`) beside `PORT`.
    pub env: Vec<String>,
    /// A compile container (`start.sh --compile /out`): this host directory is mounted writable
    /// at `/out`, and the container has no network at all.
    pub compile_out: Option<PathBuf>,
}

impl ContainerSpec {
    /// Memory limit in bytes.
    pub fn memory_bytes(&self) -> i64 {
        i64::from(self.memory_mb) * 1024 * 1024
    }

    /// CPU limit in units of 10⁻⁹ CPUs.
    pub fn nano_cpus(&self) -> i64 {
        i64::from(self.cpus) * 1_000_000_000
    }
}

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The kernel killed it for going over its memory limit.
    pub oom_killed: bool,
    pub code: i64,
}

/// Container operations the executor needs. Implementations must be cheap to share.
pub trait ContainerEngine: Send + Sync + 'static {
    /// Creates a container (not started) and returns its id.
    fn create(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    /// Starts a created container.
    fn start(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// The address the runner answers on (container IP and [`RUNNER_PORT`]).
    fn address(&self, id: &str) -> impl Future<Output = Result<SocketAddr, EngineError>> + Send;
    /// Kills and removes a container; an already removed container is not an error.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Ids of the containers (running or not) whose label `key` equals `value`.
    fn list_by_label(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;
    /// How the container ended; `None` while it runs.
    fn exit(&self, id: &str) -> impl Future<Output = Result<Option<Exit>, EngineError>> + Send;
    /// Whether the image is present locally.
    fn image_exists(&self, image: &str) -> impl Future<Output = Result<bool, EngineError>> + Send;
    /// The id (`sha256:…`) of the local image `image` names; `None` when the node lacks it.
    fn image_id(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<String>, EngineError>> + Send;
    /// Pulls `image` from its registry (custom images the node lacks).
    fn pull(&self, image: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Changes a running container's memory (MB, swap the same) and CPU limits.
    fn update_limits(
        &self,
        id: &str,
        memory_mb: u32,
        cpus: u32,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Freezes every process of a running container (`docker pause`); the owner's conditions
    /// stopped holding. Engines without a freezer do nothing.
    fn pause(&self, _id: &str) -> impl Future<Output = Result<(), EngineError>> + Send {
        async { Ok(()) }
    }
    /// Thaws a paused container (`docker unpause`).
    fn unpause(&self, _id: &str) -> impl Future<Output = Result<(), EngineError>> + Send {
        async { Ok(()) }
    }
}
